import Foundation
import HelpdeskCore
import HelpdeskPostgres
import HelpdeskStore
import HelpdeskTestSupport
import Synchronization
import Testing

/// What only PostgreSQL has: several replicas writing one database. Each test opens several
/// `PostgresStore`s on one new database (a pool each, as separate processes would have) and races
/// them; what SQLite's single writer orders, row locks, advisory locks and conditional updates must.
@Suite struct PostgresReplicaStoreTests {
    /// `count` stores opened on one new database, closed after `body`.
    private func withReplicas(_ count: Int = 3, _ body: ([any Store], PostgresEndpoint) async throws -> Void) async throws {
        let endpoint = try await TemporaryPostgres.newDatabase()
        var replicas: [any Store] = []
        do {
            for _ in 0..<count { replicas.append(try await PostgresStore.open(options: TemporaryPostgres.storeOptions(endpoint))) }
            try await body(replicas, endpoint)
        } catch {
            for replica in replicas { try? await replica.close() }
            throw error
        }
        for replica in replicas { try await replica.close() }
    }

    // MARK: Jobs

    @Test func replicasLeasingAtOnceNeverGetTheSameJob() async throws {
        try await withReplicas { replicas, endpoint in
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            let total = 60
            let ids = try await replicas[0].apply(ChangeSet(jobs: (0..<total).map {
                NewJob(kind: "test", payload: "{\"n\":\($0)}", runAt: start)
            })).jobIDs.compactMap { $0 }
            try #require(ids.count == total)
            let leased = try await withThrowingTaskGroup(of: [LeasedJob].self) { group in
                for (index, replica) in replicas.enumerated() {
                    group.addTask {
                        var mine: [LeasedJob] = []
                        for _ in 0..<1000 {
                            let batch = try await replica.jobs.lease(owner: "replica-\(index)", limit: 3, duration: .seconds(60), now: start)
                            if batch.isEmpty {
                                // SKIP LOCKED passes over rows another replica is leasing right now: done only when none is queued.
                                if try await replica.jobs.stats(now: start).counts[.queued, default: 0] == 0 { break }
                                await Task.yield()
                                continue
                            }
                            mine += batch
                            // Completed as they come: each lease's token is its own, so each completes.
                            for job in batch {
                                #expect(try await replica.jobs.complete(job, result: nil, followUp: ChangeSet(), now: start))
                            }
                        }
                        return mine
                    }
                }
                var all: [LeasedJob] = []
                for try await batch in group { all += batch }
                return all
            }
            #expect(leased.count == total, "every job leased once")
            #expect(Set(leased.map(\.id)) == Set(ids), "no job twice, none missed")
            #expect(try await replicas[1].jobs.stats(now: start).counts[.done] == total)
            let runs = try await TemporaryPostgres.query("SELECT count(*), count(DISTINCT job_id) FROM job_runs", in: endpoint)
            #expect(runs == [["\(total)", "\(total)"]], "one run per job: no lease was taken over")
        }
    }

    // MARK: Alert notifications

    /// One Alertmanager notification of `count` firing alerts of group `g<round>` for channel
    /// `C<round>`, built as AlertIntake builds one: 5 a minute make a storm, whose 2 most severe are diagnosed.
    private func notification(_ count: Int, round: Int) -> ChangeSet {
        let rules = StormRules(threshold: 5, diagnoseTop: 2, settle: .seconds(15), digestInterval: .seconds(10), quietPeriod: .seconds(60))
        let (channel, group) = ("C\(round)", "g\(round)")
        var changes = ChangeSet()
        for index in 0..<count {
            let fingerprint = "r\(round)-f\(index)"
            changes.alerts.append(AlertRecord(
                fingerprint: fingerprint, startsAt: "2026-12-03T10:00:00Z", status: "firing", groupKey: group, receiver: "am",
                labels: .object(["alertname": .string("A\(index)"), "severity": .string("warning")]), annotations: .object([:]),
                endsAt: nil, generatorURL: nil, receivedAt: Date(), onNew: [NewJob(kind: "srebot.alert", payload: fingerprint)]))
        }
        changes.notification = AlertNotificationIntake(
            channel: channel, groupKey: group, groupName: group, severity: "warning", ranks: Array(repeating: 0, count: count), rules: rules,
            calmMessages: [OutboxMessage(channel: channel, body: .object(["text": .string("root \(group)")]), threadKey: "alertgroup:\(group)",
                                         isRoot: true, onceKey: "alert-root:\(group)")],
            postsToSlack: true)
        return changes
    }

    /// What notifications left in a store: alerts, jobs, messages, and each channel's open storm's count.
    private struct Effects: Equatable {
        var alerts: Int
        var jobKinds: [String]
        var messageChannels: [String]
        var stormFiring: [String: Int]
    }

    private func effects(_ store: any Store, rounds: Range<Int>) async throws -> Effects {
        var firing: [String: Int] = [:]
        for round in rounds {
            if let storm = try await store.storms.active(channel: "C\(round)") { firing["C\(round)"] = storm.firing }
        }
        return Effects(alerts: try await store.alerts.list(AlertQuery(limit: 1000)).count,
                       jobKinds: try await store.jobs.list(state: nil, limit: 1000).map(\.kind).sorted(),
                       messageChannels: try await store.slackOutbox.entries(channel: nil).map(\.channel).sorted(),
                       stormFiring: firing)
    }

    /// An HA pair of Alertmanagers sends each notification to two replicas at once. Calm (2 alerts) and
    /// stormy (8 alerts, past the threshold of 5).
    @Test(arguments: [2, 8])
    func oneNotificationAppliedThroughTwoReplicasAtOnceCountsOnce(alerts: Int) async throws {
        let rounds = 0..<3
        // What one copy of each notification makes, in a database of its own.
        var expected: Effects?
        try await withTemporaryStore(.postgres) { store in
            for round in rounds { try await store.apply(notification(alerts, round: round)) }
            expected = try await effects(store, rounds: rounds)
        }
        let once = try #require(expected)
        #expect(once.alerts == 3 * alerts)
        #expect(once.stormFiring.count == (alerts > 5 ? 3 : 0))
        try await withReplicas(2) { replicas, _ in
            for round in rounds {
                let changes = notification(alerts, round: round)
                async let first = replicas[0].apply(changes)
                async let second = replicas[1].apply(changes)
                let outcomes = try await [first, second]
                #expect(outcomes.flatMap(\.newAlerts).filter { $0 }.count == alerts, "each alert is new once")
                #expect(outcomes.filter { $0.newAlerts.contains(true) }.count == 1, "one copy found them new, the other found a repeat")
                let storms = outcomes.compactMap(\.storm)
                #expect(storms.allSatisfy { $0 == storms.first }, "one storm")
            }
            #expect(try await effects(replicas[1], rounds: rounds) == once, "as if each notification had come once")
        }
    }

    // MARK: Approvals

    @Test func twoVotesCompletingAQuorumAtOnceThroughTwoReplicasQueueTheActionOnce() async throws {
        try await withReplicas(2) { replicas, _ in
            let now = Date()
            let ids = (0..<5).map { "apr_race\($0)" }
            for id in ids {
                _ = try await replicas[0].approvals.create(
                    NewApproval(id: id, requester: "bob", request: .object(["tool": .string("terminate_backend")]), decision: .object([:]),
                                quorum: 2, createdAt: now, expiresAt: now.addingTimeInterval(3600)),
                    audit: [AuditDraft(kind: "approval_created", principal: "bob", target: id)])
                // No dedup key: only the request's row lock can keep the action to one job.
                let execute = NewJob(kind: "approval.execute", payload: "{\"approval\":\"\(id)\"}")
                async let carol = replicas[0].approvals.vote(id: id, principal: "carol", choice: .approve, reason: nil, via: "test", now: now,
                                                             execute: execute)
                async let dave = replicas[1].approvals.vote(id: id, principal: "dave", choice: .approve, reason: nil, via: "test", now: now,
                                                            execute: execute)
                let outcomes = try await [carol, dave]
                let approved = outcomes.filter { if case .approved = $0 { true } else { false } }.count
                let recorded = outcomes.filter { if case .recorded = $0 { true } else { false } }.count
                #expect(approved == 1 && recorded == 1, "the second vote sees the first: \(outcomes)")
                let record = try #require(try await replicas[1].approvals.approval(id: id))
                #expect(record.status == .approved && record.execution == "queued")
                #expect(record.votes.map(\.principal).sorted() == ["carol", "dave"], "both votes count")
            }
            let jobs = try await replicas[0].jobs.list(state: nil, limit: 100)
            #expect(jobs.map(\.payload).sorted() == ids.map { "{\"approval\":\"\($0)\"}" }.sorted(), "one action per request")
            #expect(try await replicas[1].audit.verify().ok)
        }
    }

    // MARK: Audit chain

    @Test func auditAppendsThroughThreeReplicasKeepOneUnbrokenChain() async throws {
        try await withReplicas { replicas, _ in
            let keyring = AuditKeyring(current: AuditKey(id: "k1", secret: Secret("replica-audit-key-0123456789")))
            for replica in replicas { replica.attachAuditChain(AuditChain(keyring: keyring, checkpointFile: nil)) }
            let perReplica = 40
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, replica) in replicas.enumerated() {
                    for n in 0..<perReplica {
                        group.addTask {
                            try await replica.apply(ChangeSet(audit: [AuditDraft(kind: "tool_call", principal: "replica-\(index)", target: "prod-db",
                                                                                 data: .object(["n": .number(Double(n))]))]))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let total = replicas.count * perReplica
            let verified = try await replicas[2].audit.verify()
            #expect(verified.ok, "\(verified)")
            #expect(verified.checked == total && verified.keyed == total)
            let events = try await replicas[0].audit.events(since: nil, limit: 10_000)
            #expect(events.map(\.seq) == Array(1...Int64(total)), "no gap, no seq twice")
            #expect(zip(events.dropFirst(), events).allSatisfy { $0.prevHash == $1.hash }, "each event seals the one before it")
            for index in replicas.indices {
                #expect(events.filter { $0.principal == "replica-\(index)" }.count == perReplica)
            }
        }
    }

    // MARK: Slack outbox

    /// What the replicas sending the outbox did, as they did it.
    private final class OutboxTracker: Sendable {
        struct Sent: Sendable {
            var id: Int64
            var threadKey: String?
            var isRoot: Bool
            var threadTS: String?
        }

        struct State: Sendable {
            /// Per channel, the message leased and not yet handed to markSent.
            var inFlight: [String: Int64] = [:]
            var delivered: [String: [Sent]] = [:]
            var sent = 0
            var violations: [String] = []
        }

        let state = Mutex(State())

        func leased(_ entry: OutboxEntry) {
            state.withLock { state in
                if let other = state.inFlight[entry.message.channel] {
                    state.violations.append("\(entry.message.channel): \(entry.id) leased while \(other) was")
                }
                state.inFlight[entry.message.channel] = entry.id
            }
        }

        /// Called just before markSent: the store still holds the lease until markSent commits, so
        /// another replica leasing the channel before this returns would be a double lease.
        func sending(_ entry: OutboxEntry) {
            state.withLock { state in
                state.inFlight[entry.message.channel] = nil
                state.delivered[entry.message.channel, default: []].append(
                    Sent(id: entry.id, threadKey: entry.message.threadKey, isRoot: entry.message.isRoot, threadTS: entry.threadTS))
                state.sent += 1
            }
        }

        var snapshot: State { state.withLock { $0 } }
    }

    @Test func threeReplicasSendingTheOutboxKeepEachChannelOneAtATimeAndInOrder() async throws {
        try await withReplicas { replicas, _ in
            let channels = ["C1", "C2", "C3", "C4"]
            var messages: [OutboxMessage] = []
            for channel in channels {
                messages.append(OutboxMessage(channel: channel, body: .object(["text": .string("root")]), threadKey: "t-\(channel)", isRoot: true))
                for n in 0..<4 {
                    messages.append(OutboxMessage(channel: channel, body: .object(["text": .string("reply \(n)")]), threadKey: "t-\(channel)"))
                    messages.append(OutboxMessage(channel: channel, body: .object(["text": .string("note \(n)")])))
                }
            }
            try await replicas[0].apply(ChangeSet(slackMessages: messages))
            let queued = try await replicas[0].slackOutbox.entries(channel: nil)
            try #require(queued.count == messages.count)
            let total = queued.count
            let now = Date().addingTimeInterval(1)
            let tracker = OutboxTracker()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for replica in replicas {
                    group.addTask {
                        for _ in 0..<2000 {
                            if tracker.snapshot.sent >= total { break }
                            let batch = try await replica.slackOutbox.due(now: now, lease: .seconds(60), budgetPerMinute: 1000)
                            if batch.isEmpty {
                                try await Task.sleep(for: .milliseconds(2))
                                continue
                            }
                            for entry in batch { tracker.leased(entry) }
                            for entry in batch {
                                tracker.sending(entry)
                                try await replica.slackOutbox.markSent(entry.id, version: entry.version, ts: "\(entry.id).0", now: now)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let state = tracker.snapshot
            #expect(state.violations.isEmpty, "a channel leased twice at once: \(state.violations)")
            #expect(state.sent == total, "each message sent once")
            for channel in channels {
                let ids = queued.filter { $0.channel == channel }.map(\.id)
                let delivered = state.delivered[channel] ?? []
                #expect(delivered.map(\.id) == ids, "\(channel)'s messages in id order")
                let root = try #require(delivered.first { $0.isRoot })
                #expect(delivered.filter { $0.threadKey != nil && !$0.isRoot }.allSatisfy { $0.threadTS == "\(root.id).0" },
                        "\(channel)'s replies in its root's thread")
            }
            #expect(try await replicas[1].slackOutbox.entries(channel: nil).allSatisfy { $0.state == "sent" })
        }
    }
}
