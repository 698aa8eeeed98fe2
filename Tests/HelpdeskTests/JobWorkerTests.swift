import Foundation
import HelpdeskCore
import HelpdeskHTTPClient
import HelpdeskJobs
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(base: .seconds(2), max: .seconds(60))

    @Test func delayDoublesPerAttemptUpToTheCap() {
        #expect(policy.delay(afterAttempt: 1, jitter: 1) == .seconds(2))
        #expect(policy.delay(afterAttempt: 2, jitter: 1) == .seconds(4))
        #expect(policy.delay(afterAttempt: 4, jitter: 1) == .seconds(16))
        #expect(policy.delay(afterAttempt: 10, jitter: 1) == .seconds(60))
        #expect(policy.delay(afterAttempt: 1000, jitter: 1) == .seconds(60))
    }

    @Test func jitterKeepsAtLeastHalfTheDelay() {
        #expect(policy.delay(afterAttempt: 3, jitter: 0) == .seconds(4))
        #expect(policy.delay(afterAttempt: 3, jitter: 0.5) == .seconds(6))
    }
}

@Suite struct JobWorkerTests {
    private func makeWorker(_ store: SQLiteStore, handlers: [String: any JobHandler], registry: PrometheusCollectorRegistry = .init(),
                            lease: Duration = .seconds(30), timeout: Duration = .seconds(30), grace: Duration = .seconds(5),
                            owner: LeaseOwner = .thisProcess,
                            isAlive: @escaping @Sendable (Int32) -> Bool = LeaseOwner.processIsRunning) -> JobWorker {
        JobWorker(
            queue: store.jobs, handlers: handlers,
            options: .init(concurrency: 4, lease: lease, pollInterval: .milliseconds(20), timeout: timeout,
                           retry: RetryPolicy(base: .milliseconds(10), max: .milliseconds(40)), shutdownGrace: grace),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), redactor: Redactor(),
            metrics: PrometheusMetricsFactory(registry: registry), owner: owner, isAlive: isAlive)
    }

    /// Runs `worker` in a service group while `body` runs, then shuts it down gracefully.
    private func whileRunning(_ worker: JobWorker, _ body: () async throws -> Void) async throws {
        let group = ServiceGroup(services: [worker], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            try await body()
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
    }

    @Test func failingJobIsRetriedWithBackoffUntilItSucceeds() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite"), defaultMaxAttempts: 5))
        let handler = ScriptedJobHandler { $0.attempt < 3 ? .fail("flaky \($0.attempt)") : .succeed("third time") }
        let registry = PrometheusCollectorRegistry()
        let worker = makeWorker(store, handlers: ["flaky": handler], registry: registry)
        let id = try #require(try await store.apply(ChangeSet(jobs: [NewJob(kind: "flaky", payload: "{}")])).jobIDs.first ?? nil)
        try await whileRunning(worker) {
            #expect(await eventually(timeout: .seconds(60)) { try await store.jobs.job(id: id)?.state == .done })
        }
        #expect(handler.received.map(\.attempt) == [1, 2, 3])
        let runs = try await store.jobs.runs(jobID: id)
        #expect(runs.map(\.outcome) == [.failed, .failed, .done])
        #expect(runs.first?.error == "flaky 1")
        var text: [UInt8] = []
        registry.emit(into: &text)
        let metrics = String(decoding: text, as: UTF8.self)
        #expect(metrics.contains(#"helpdesk_jobs_processed_total{kind="flaky",outcome="retry"} 2"#))
        #expect(metrics.contains(#"helpdesk_jobs_processed_total{kind="flaky",outcome="done"} 1"#))
        try await store.close()
    }

    @Test func jobThatAlwaysFailsEndsDeadWithItsLastError() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite"), defaultMaxAttempts: 3))
        let handler = ScriptedJobHandler { .fail("still broken on attempt \($0.attempt)") }
        let id = try #require(try await store.apply(ChangeSet(jobs: [NewJob(kind: "broken", payload: "{}")])).jobIDs.first ?? nil)
        let registry = PrometheusCollectorRegistry()
        try await whileRunning(makeWorker(store, handlers: ["broken": handler], registry: registry)) {
            #expect(await eventually(timeout: .seconds(60)) { try await store.jobs.job(id: id)?.state == .dead })
            // Counted once the worker has recorded the outcome, just after the store says dead.
            #expect(await eventually(timeout: .seconds(60)) {
                var text: [UInt8] = []
                registry.emit(into: &text)
                return String(decoding: text, as: UTF8.self).contains("helpdesk_jobs_dead_lettered_total 1")
            })
        }
        #expect(try await store.jobs.job(id: id)?.lastError == "still broken on attempt 3")
        #expect(handler.received.count == 3)
        try await store.close()
    }

    @Test func permanentFailureAndUnknownKindAreHandled() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite"), defaultMaxAttempts: 2))
        let handler = ScriptedJobHandler { _ in .failPermanently("payload is not JSON") }
        let ids = try await store.apply(ChangeSet(jobs: [NewJob(kind: "strict", payload: "x"), NewJob(kind: "mystery", payload: "{}")])).jobIDs
        try await whileRunning(makeWorker(store, handlers: ["strict": handler])) {
            #expect(await eventually(timeout: .seconds(60)) {
                let first = try await store.jobs.job(id: ids[0]!)?.state
                let second = try await store.jobs.job(id: ids[1]!)?.state
                return first == .dead && second == .dead
            })
        }
        #expect(handler.received.count == 1, "a permanent failure is not retried")
        #expect(try await store.jobs.job(id: ids[1]!)?.lastError == "no handler for job kind \"mystery\" in this build of helpdesk")
        try await store.close()
    }

    @Test func attemptOverItsTimeoutIsCancelledAndRetried() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        // Attempts to spare: on a starved run the quick second attempt may overrun 0.2 s too.
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite"), defaultMaxAttempts: 10))
        let handler = ScriptedJobHandler { $0.attempt == 1 ? .hang(seconds: 30) : .succeed("quick") }
        let id = try #require(try await store.apply(ChangeSet(jobs: [NewJob(kind: "slow", payload: "{}")])).jobIDs.first ?? nil)
        try await whileRunning(makeWorker(store, handlers: ["slow": handler], timeout: .milliseconds(200))) {
            #expect(await eventually(timeout: .seconds(60)) { try await store.jobs.job(id: id)?.state == .done })
        }
        #expect(try await store.jobs.runs(jobID: id).first?.error == "timed out after 0.2 s")
        try await store.close()
    }

    @Test func shutdownReleasesJobsThatOutliveTheGracePeriod() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        let handler = ScriptedJobHandler { _ in .hang(seconds: 60) }
        let id = try #require(try await store.apply(ChangeSet(jobs: [NewJob(kind: "long", payload: "{}")])).jobIDs.first ?? nil)
        try await whileRunning(makeWorker(store, handlers: ["long": handler], grace: .milliseconds(100))) {
            #expect(await eventually(timeout: .seconds(60)) { handler.received.count == 1 })
        }
        let record = try #require(try await store.jobs.job(id: id))
        #expect(record.state == .queued, "released for another process, not failed")
        #expect(record.attempts == 0)
        #expect(try await store.jobs.runs(jobID: id).map(\.outcome) == [.released])
        try await store.close()
    }

    @Test func shutdownLetsShortJobsFinish() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        let handler = ScriptedJobHandler { _ in .hang(seconds: 0.3) }
        let id = try #require(try await store.apply(ChangeSet(jobs: [NewJob(kind: "short", payload: "{}")])).jobIDs.first ?? nil)
        try await whileRunning(makeWorker(store, handlers: ["short": handler], grace: .seconds(60))) {
            #expect(await eventually(timeout: .seconds(60)) { handler.received.count == 1 })
        }
        #expect(try await store.jobs.job(id: id)?.state == .done)
        try await store.close()
    }

    @Test func longJobKeepsItsLeaseWhileRunning() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        let handler = HeldJobHandler()
        defer { handler.release() }
        let id = try #require(try await store.apply(ChangeSet(jobs: [NewJob(kind: "long", payload: "{}")])).jobIDs.first ?? nil)
        // Renewed every lease / 3 = 4 s: a renewal may come 8 s late (a starved CI run) before the lease lapses.
        try await whileRunning(makeWorker(store, handlers: ["long": handler], lease: .seconds(12), timeout: .seconds(120))) {
            #expect(await eventually(timeout: .seconds(60)) { handler.runs == 1 })
            let first = try #require(try await store.jobs.job(id: id)?.leaseExpiresAt, "leased while it runs")
            // The run goes on until its lease has been renewed twice (a renewal that stopped after one would
            // not do): events, not times.
            var expiry = first
            for renewal in 1...2 {
                let renewed = await eventually(timeout: .seconds(60)) {
                    try await store.jobs.job(id: id)?.leaseExpiresAt.map { $0 > expiry } ?? false
                }
                #expect(renewed, "the running job's lease was renewed (\(renewal))")
                expiry = try #require(try await store.jobs.job(id: id)?.leaseExpiresAt)
            }
            // Another worker polling once the first lease would have lapsed finds nothing to take.
            let taken = try await store.jobs.lease(owner: "other-host:1:other", limit: 1, duration: .seconds(12),
                                                   now: first.addingTimeInterval(1))
            #expect(taken.isEmpty, "the renewal kept other leasers away")
            handler.release()
            #expect(await eventually(timeout: .seconds(60)) { try await store.jobs.job(id: id)?.state == .done })
        }
        #expect(handler.runs == 1)
        #expect(try await store.jobs.runs(jobID: id).map(\.outcome) == [.done], "one run, never taken over")
        try await store.close()
    }

    @Test func startTakesBackTheLeasesOfAStoppedProcessOnThisHost() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        let ids = try await store.apply(ChangeSet(jobs: [NewJob(kind: "work", payload: "{}"), NewJob(kind: "work", payload: "{}")]))
            .jobIDs.compactMap { $0 }
        // A crashed predecessor on this host, and a live worker on another: both hold hour-long leases.
        _ = try await store.jobs.lease(owner: "bot-1:100:crashed", limit: 1, duration: .seconds(3600), now: Date())
        _ = try await store.jobs.lease(owner: "bot-2:100:busy", limit: 1, duration: .seconds(3600), now: Date())
        let handler = ScriptedJobHandler { _ in .succeed("resumed") }
        let registry = PrometheusCollectorRegistry()
        let worker = makeWorker(store, handlers: ["work": handler], registry: registry,
                                owner: LeaseOwner(host: "bot-1", pid: 200, instance: "new"), isAlive: { $0 != 100 })
        try await whileRunning(worker) {
            #expect(await eventually(timeout: .seconds(60)) { try await store.jobs.job(id: ids[0])?.state == .done })
        }
        let runs = try await store.jobs.runs(jobID: ids[0])
        #expect(runs.map(\.outcome) == [.abandoned, .done])
        #expect(runs.map(\.worker) == ["bot-1:100:crashed", "bot-1:200:new"])
        #expect(try await store.jobs.job(id: ids[1])?.state == .running, "another host's lease waits for expiry")
        #expect(handler.received.map(\.id) == [ids[0]])
        var text: [UInt8] = []
        registry.emit(into: &text)
        #expect(String(decoding: text, as: UTF8.self).contains("helpdesk_job_lease_reclaims_total 1"))
        try await store.close()
    }
}

/// A job that runs until the test releases it (or its run is cancelled), counting its runs.
private final class HeldJobHandler: JobHandler {
    private let state = Mutex((runs: 0, released: false))
    var runs: Int { state.withLock { $0.runs } }
    func release() { state.withLock { $0.released = true } }
    func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        state.withLock { $0.runs += 1 }
        while !state.withLock({ $0.released }) { try await Task.sleep(for: .milliseconds(20)) }
        return JobOutcome(result: "released")
    }
}
