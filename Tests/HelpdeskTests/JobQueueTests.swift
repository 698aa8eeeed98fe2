import Foundation
import HelpdeskStore
import HelpdeskTestSupport
import Synchronization
import Testing

/// The queue's state machine, driven with explicit times so leases and backoff need no waiting; on
/// SQLite and on PostgreSQL.
@Suite struct JobQueueTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// A fresh store of `kind` whose jobs get three attempts unless they set their own.
    private func withQueue(_ kind: StoreKind, _ body: (any Store, any JobQueue) async throws -> Void) async throws {
        try await withTemporaryStore(kind, defaultMaxAttempts: 3) { store in try await body(store, store.jobs) }
    }

    private func enqueue(_ store: any Store, _ count: Int = 1, runAt: Date? = nil) async throws -> [JobID] {
        let jobs = (0..<count).map { NewJob(kind: "test", payload: "{\"n\":\($0)}", runAt: runAt ?? start) }
        return try await store.apply(ChangeSet(jobs: jobs)).jobIDs.compactMap { $0 }
    }

    @Test(arguments: StoreKind.allCases)
    func leaseTakesDueJobsOnceAndCompletes(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            let ids = try await enqueue(store, 3)
            let leased = try await queue.lease(owner: "w1", limit: 2, duration: .seconds(30), now: start)
            #expect(leased.map(\.id) == Array(ids.prefix(2)))
            #expect(leased.allSatisfy { $0.attempt == 1 && $0.owner == "w1" })
            let rest = try await queue.lease(owner: "w2", limit: 5, duration: .seconds(30), now: start)
            #expect(rest.map(\.id) == [ids[2]], "a leased job is not handed to a second worker")
            #expect(try await queue.complete(leased[0], result: "fine", followUp: ChangeSet(), now: start))
            let record = try #require(try await queue.job(id: ids[0]))
            #expect(record.state == .done)
            #expect(record.result == "fine")
            #expect(try await queue.runs(jobID: ids[0]).map(\.outcome) == [.done])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func futureJobsWaitForTheirTime(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            _ = try await enqueue(store, 1, runAt: start.addingTimeInterval(60))
            #expect(try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: start).isEmpty)
            #expect(try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: start.addingTimeInterval(61)).count == 1)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func failureRetriesAtTheGivenTimeThenDeadLetters(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            let id = try #require(try await enqueue(store).first)
            var now = start
            for attempt in 1...3 {
                let job = try #require(try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: now).first)
                #expect(job.attempt == attempt)
                let retryAt = now.addingTimeInterval(Double(attempt) * 10)
                let disposition = try await queue.fail(job, error: "boom \(attempt)", retryAt: retryAt, now: now)
                if attempt < 3 {
                    #expect(disposition == .willRetry(at: retryAt))
                    #expect(try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: now).isEmpty, "not before its backoff")
                    now = retryAt
                } else {
                    #expect(disposition == .deadLettered)
                }
            }
            let record = try #require(try await queue.job(id: id))
            #expect(record.state == .dead)
            #expect(record.lastError == "boom 3")
            #expect(try await queue.runs(jobID: id).map(\.outcome) == [.failed, .failed, .failed])
            #expect(try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: now.addingTimeInterval(3600)).isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func permanentFailureDeadLettersAtOnce(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            _ = try await enqueue(store)
            let job = try #require(try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: start).first)
            #expect(try await queue.fail(job, error: "bad payload", retryAt: nil, now: start) == .deadLettered)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func expiredLeaseIsTakenOverAndTheStaleWorkerIsFencedOut(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            let id = try #require(try await enqueue(store).first)
            let stale = try #require(try await queue.lease(owner: "dead-worker", limit: 1, duration: .seconds(30), now: start).first)
            #expect(try await queue.lease(owner: "w2", limit: 1, duration: .seconds(30), now: start.addingTimeInterval(29)).isEmpty)
            let later = start.addingTimeInterval(31)
            let fresh = try #require(try await queue.lease(owner: "w2", limit: 1, duration: .seconds(30), now: later).first)
            #expect(fresh.id == id)
            #expect(fresh.attempt == 2)
            #expect(try await queue.complete(stale, result: "late", followUp: ChangeSet(), now: later) == false)
            #expect(try await queue.renew(stale, until: later.addingTimeInterval(60)) == false)
            #expect(try await queue.fail(stale, error: "late", retryAt: later, now: later) == .leaseLost)
            #expect(try await queue.complete(fresh, result: "ok", followUp: ChangeSet(), now: later))
            let runs = try await queue.runs(jobID: id)
            #expect(runs.map(\.outcome) == [.abandoned, .done])
            #expect(runs.map(\.worker) == ["dead-worker", "w2"])
            #expect(try await queue.job(id: id)?.result == "ok")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func renewedLeaseIsNotTakenOver(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            _ = try await enqueue(store)
            let job = try #require(try await queue.lease(owner: "w1", limit: 1, duration: .seconds(30), now: start).first)
            #expect(try await queue.renew(job, until: start.addingTimeInterval(90)))
            #expect(try await queue.lease(owner: "w2", limit: 1, duration: .seconds(30), now: start.addingTimeInterval(60)).isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func jobThatKeepsKillingItsWorkerIsDeadLettered(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            let id = try #require(try await enqueue(store).first)
            var now = start
            for _ in 1...3 {
                #expect(try await queue.lease(owner: "doomed", limit: 1, duration: .seconds(10), now: now).count == 1)
                now = now.addingTimeInterval(11)
            }
            #expect(try await queue.lease(owner: "doomed", limit: 1, duration: .seconds(10), now: now).isEmpty)
            let record = try #require(try await queue.job(id: id))
            #expect(record.state == .dead)
            #expect(record.lastError?.contains("lease expired") == true)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func releaseGivesTheAttemptBack(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            let id = try #require(try await enqueue(store).first)
            let job = try #require(try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: start).first)
            try await queue.release(job, now: start)
            let again = try #require(try await queue.lease(owner: "w2", limit: 1, duration: .seconds(30), now: start).first)
            #expect(again.id == id)
            #expect(again.attempt == 1)
            #expect(try await queue.runs(jobID: id).map(\.outcome) == [.released, nil])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func retryRevivesADeadJobAndRefusesOthers(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            let id = try #require(try await enqueue(store).first)
            let job = try #require(try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: start).first)
            await #expect(throws: StoreError.jobNotRetryable(id, state: .running)) { try await queue.retry(id: id, now: start) }
            _ = try await queue.fail(job, error: "gave up", retryAt: nil, now: start)
            let revived = try await queue.retry(id: id, now: start.addingTimeInterval(5))
            #expect(revived.state == .queued)
            #expect(revived.attempts == 0)
            #expect(revived.lastError == "gave up")
            let rerun = try #require(try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: start.addingTimeInterval(5)).first)
            #expect(try await queue.complete(rerun, result: nil, followUp: ChangeSet(), now: start.addingTimeInterval(6)))
            await #expect(throws: StoreError.jobNotRetryable(id, state: .done)) { try await queue.retry(id: id, now: start) }
            await #expect(throws: StoreError.jobNotFound(999)) { try await queue.retry(id: 999, now: start) }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func completionEnqueuesFollowUpAtomically(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            _ = try await enqueue(store)
            let job = try #require(try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: start).first)
            let followUp = ChangeSet(jobs: [NewJob(kind: "slack.post", payload: "{}")])
            #expect(try await queue.complete(job, result: nil, followUp: followUp, now: start))
            #expect(try await queue.list(state: .queued, limit: 10).map(\.kind) == ["slack.post"])
        }
    }

    // MARK: Taking back the leases of stopped processes at start

    private let me = LeaseOwner(host: "bot-1", pid: 200, instance: "now")

    /// Leases one job per owner text, a minute long, so only reclaiming (not expiry) can free them.
    private func leaseOne(_ store: any Store, each owners: [String], maxAttempts: Int? = nil) async throws -> [JobID] {
        let jobs = owners.indices.map { NewJob(kind: "test", payload: "{\"n\":\($0)}", runAt: start, maxAttempts: maxAttempts) }
        let ids = try await store.apply(ChangeSet(jobs: jobs)).jobIDs.compactMap { $0 }
        for owner in owners {
            #expect(try await store.jobs.lease(owner: owner, limit: 1, duration: .seconds(60), now: start).count == 1)
        }
        return ids
    }

    @Test(arguments: StoreKind.allCases)
    func reclaimsLeasesOfADeadPidOnThisHost(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            let ids = try await leaseOne(store, each: ["bot-1:100:crashed", "bot-1:101:alive"])
            let later = start.addingTimeInterval(1)
            let reclaimed = try await queue.reclaimOrphanedLeases(seenFrom: me, isAlive: { $0 != 100 }, now: later)
            #expect(reclaimed == [ReclaimedLease(jobID: ids[0], owner: LeaseOwner(host: "bot-1", pid: 100, instance: "crashed"),
                                                 deadLettered: false)])
            let record = try #require(try await queue.job(id: ids[0]))
            #expect(record.state == .queued)
            #expect(record.attempts == 1, "the crashed attempt stays counted")
            #expect(record.leaseOwner == nil)
            #expect(record.lastError == "the process holding the lease (bot-1:100) is gone")
            let runs = try await queue.runs(jobID: ids[0])
            #expect(runs.map(\.outcome) == [.abandoned])
            #expect(runs.first?.error == "the process holding the lease (bot-1:100) is gone")
            #expect(runs.first?.finishedAt == later)
            #expect(try await queue.job(id: ids[1])?.state == .running, "a live process keeps its lease")
            let again = try #require(try await queue.lease(owner: me.description, limit: 5, duration: .seconds(60), now: later).first)
            #expect(again.id == ids[0])
            #expect(again.attempt == 2)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func reclaimsOurOwnPidUnderAnotherInstance(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            let ids = try await leaseOne(store, each: ["bot-1:200:before-restart", me.description])
            let reclaimed = try await queue.reclaimOrphanedLeases(seenFrom: me, isAlive: { _ in true }, now: start)
            #expect(reclaimed.map(\.jobID) == [ids[0]])
            #expect(try await queue.job(id: ids[0])?.state == .queued)
            #expect(try await queue.job(id: ids[1])?.state == .running, "our own instance's lease is ours")
            #expect(try await queue.runs(jobID: ids[0]).map(\.outcome) == [.abandoned])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func leavesOtherHostsLivePidsAndUnreadableOwnersToExpire(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            let owners = ["bot-2:100:x", "bot-10:100:x", "bot-1:300:x", "bot-1", "bot-1:zero:x", "bot-1:0:x", "bot-1:-5:x",
                          "bot-1:100:", "legacy-worker"]
            let ids = try await leaseOne(store, each: owners)
            let asked = Mutex<[Int32]>([])
            let reclaimed = try await queue.reclaimOrphanedLeases(seenFrom: me, isAlive: { pid in
                asked.withLock { $0.append(pid) }
                return pid == 300
            }, now: start)
            #expect(reclaimed.isEmpty)
            #expect(asked.withLock { $0 } == [300], "only this host's readable pids are checked")
            for id in ids {
                #expect(try await queue.job(id: id)?.state == .running)
                #expect(try await queue.runs(jobID: id).map(\.outcome) == [nil])
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func reclaimingOnTheLastAttemptDeadLetters(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            let id = try #require(try await leaseOne(store, each: ["bot-1:100:crashed"], maxAttempts: 1).first)
            let reclaimed = try await queue.reclaimOrphanedLeases(seenFrom: me, isAlive: { _ in false }, now: start)
            #expect(reclaimed.map(\.deadLettered) == [true])
            let record = try #require(try await queue.job(id: id))
            #expect(record.state == .dead)
            #expect(record.finishedAt == start)
            #expect(record.lastError == "the process holding the lease (bot-1:100) is gone, on the job's last attempt (1 of 1)")
            #expect(try await queue.runs(jobID: id).map(\.outcome) == [.abandoned])
            #expect(try await queue.lease(owner: me.description, limit: 1, duration: .seconds(60), now: start).isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func statsCountByStateAndAgeOfOldestDueJob(kind: StoreKind) async throws {
        try await withQueue(kind) { store, queue in
            _ = try await enqueue(store, 2)
            _ = try await queue.lease(owner: "w", limit: 1, duration: .seconds(30), now: start)
            let stats = try await queue.stats(now: start.addingTimeInterval(42))
            #expect(stats.counts[.queued] == 1)
            #expect(stats.counts[.running] == 1)
            #expect(stats.counts[.dead] == 0)
            #expect(stats.oldestDueAge == 42)
        }
    }
}
