import Foundation
import HelpdeskCore
import HelpdeskStore
import HelpdeskTestSupport
import Synchronization
import Testing

/// Storm bookkeeping and outbox coalescing, against a real store: SQLite and PostgreSQL.
@Suite struct StormTests {
    let rules = StormRules(threshold: 5, diagnoseTop: 2, settle: .seconds(15), digestInterval: .seconds(10), quietPeriod: .seconds(60))

    /// One notification of `alerts` (fingerprint, severity rank), firing or resolved, for one group.
    private func notification(_ alerts: [(String, Int)], group: String, status: String = "firing", channel: String = "C1") -> ChangeSet {
        var changes = ChangeSet()
        for (fingerprint, _) in alerts {
            changes.alerts.append(AlertRecord(
                fingerprint: fingerprint, startsAt: "2026-12-03T10:00:00Z", status: status, groupKey: group, receiver: "am",
                labels: .object(["alertname": .string("A-\(fingerprint)"), "severity": .string("s")]), annotations: .object([:]),
                endsAt: nil, generatorURL: nil, receivedAt: Date(),
                onNew: [NewJob(kind: status == "firing" ? "srebot.alert" : "srebot.resolved", payload: fingerprint)]))
        }
        changes.notification = AlertNotificationIntake(
            channel: channel, groupKey: group, groupName: group, severity: "warning", ranks: alerts.map(\.1), rules: rules,
            calmMessages: [OutboxMessage(channel: channel, body: .object(["text": .string("root \(group)")]), threadKey: "alertgroup:\(group)",
                                         isRoot: true, onceKey: "alert-root:\(group)")],
            postsToSlack: true)
        return changes
    }

    private func claim(_ fingerprint: String, channel: String? = "C1", rank: Int = 0) -> StormDiagnosisRequest {
        StormDiagnosisRequest(fingerprint: fingerprint, startsAt: "2026-12-03T10:00:00Z", channel: channel, alertname: "A", severity: "s", rank: rank)
    }

    private func pending(_ store: any Store) async throws -> [(id: Int64, channel: String, state: String, ts: String?, error: String?)] {
        try await store.slackOutbox.entries(channel: nil).filter { $0.state == "pending" }
    }

    @Test(arguments: StoreKind.allCases)
    func aCalmChannelGetsEveryRootAndJob(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let outcome = try await store.apply(notification([("a", 1), ("b", 1)], group: "g1"))
            #expect(outcome.storm == nil)
            #expect(outcome.jobIDs.compactMap { $0 }.count == 2)
            #expect(try await pending(store).count == 1, "the group's root")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aGroupsRootIsMadeOnlyWhileItCanStillBeQueued(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let made = Mutex(0)
            func repeatOfGroup(_ fingerprints: [String]) -> ChangeSet {
                var changes = notification(fingerprints.map { ($0, 0) }, group: "g1")
                changes.notification?.calmMessages = CalmMessages(root: .init(threadKey: "alertgroup:g1", onceKey: "alert-root:g1")) {
                    made.withLock { $0 += 1 }
                    return [OutboxMessage(channel: "C1", body: .object(["text": .string("root g1")]), threadKey: "alertgroup:g1",
                                          isRoot: true, onceKey: "alert-root:g1")]
                }
                return changes
            }
            _ = try await store.apply(repeatOfGroup(["a"]))
            _ = try await store.apply(repeatOfGroup(["a"]))  // the same notification again (an HA pair's copy)
            _ = try await store.apply(repeatOfGroup(["b"]))  // the group grew
            #expect(made.withLock { $0 } == 1, "rendered for the first notification only")
            #expect(try await pending(store).count == 1, "one root")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func pastTheThresholdOneStormRootTakesEveryGroupAndOnlyTheMostSevereAreDiagnosed(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            _ = try await store.apply(notification([("a", 0), ("b", 0), ("c", 0)], group: "g1"))  // calm: 3 ≤ 5
            let stormy = try await store.apply(notification([("d", 1), ("e", 0), ("f", 0)], group: "g2"))  // 6 > 5
            let storm = try #require(stormy.storm)
            #expect(stormy.jobIDs.compactMap { $0 }.count == 2, "d and one of e/f fill the two places")
            // Many more groups: none gets its own root, and only a more severe alert displaces a queued one.
            for group in 3...40 {
                let outcome = try await store.apply(notification([("x\(group)", group == 30 ? 3 : 0)], group: "g\(group)"))
                #expect(outcome.storm == storm)
            }
            let snapshot = try #require(try await store.storms.snapshot(storm, groupLimit: 100))
            #expect(snapshot.firing == 3 + 38, "counted from the alert that started it")
            #expect(snapshot.groupCount == 39)
            let chosen = snapshot.candidates.filter { $0.state != .displaced }.map(\.fingerprint)
            #expect(chosen.sorted() == ["d", "x30"])
            let roots = try await store.slackOutbox.entries(channel: "C1").count
            #expect(roots == 1 + 1 + 1, "g1's root, the storm root and one coalesced digest edit")
            #expect(try await store.storms.claimDiagnosis(claim("x30"), now: Date().addingTimeInterval(20)) == .chosen(storm))
            #expect(try await store.storms.claimDiagnosis(claim("x30"), now: Date().addingTimeInterval(20)) == .chosen(storm), "a retry still runs")
            #expect(try await store.storms.claimDiagnosis(claim("x5"), now: Date().addingTimeInterval(20)) == .skipped(storm), "no room left")
            #expect(try await store.storms.claimDiagnosis(claim("elsewhere", channel: "C9"), now: Date()) == .calm)
            // Inside the window by construction: on a loaded machine the test itself can outlast 15 s.
            #expect(try await store.storms.claimDiagnosis(claim("d"), now: snapshot.startedAt.addingTimeInterval(1)) == .later(storm, snapshot.startedAt.addingTimeInterval(15)),
                    "chosen, but the settle window is open")
            let displaced = try #require(snapshot.candidates.first { $0.state == .displaced })
            #expect(try await store.storms.claimDiagnosis(claim(displaced.fingerprint), now: Date().addingTimeInterval(20)) == .skipped(storm))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aNotificationDeliveredTwiceCountsOnce(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let first = notification([("a", 0), ("b", 0), ("c", 0), ("d", 0)], group: "g1")
            _ = try await store.apply(first)
            _ = try await store.apply(first)  // the other Alertmanager of an HA pair
            _ = try await store.apply(first)
            #expect(try await store.storms.active(channel: "C1") == nil, "4 distinct alerts, not 12")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aQuietOrResolvedStormClosesOnceWithOneSummary(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let stormy = try await store.apply(notification((0..<8).map { ("f\($0)", 0) }, group: "g1"))
            let storm = try #require(stormy.storm)
            #expect(try await store.storms.closeQuiet(now: Date()) == [], "still firing, inside its quiet period")
            _ = try await store.apply(notification((0..<8).map { ("f\($0)", 0) }, group: "g1", status: "resolved"))
            #expect(try await store.storms.closeQuiet(now: Date().addingTimeInterval(16)) == [storm], "all resolved, past the settle window")
            #expect(try await store.storms.closeQuiet(now: Date().addingTimeInterval(17)) == [])
            let snapshot = try #require(try await store.storms.snapshot(storm, groupLimit: 10))
            #expect(snapshot.closedAt != nil && snapshot.resolved == 8)
            let summaries = try await store.slackOutbox.entries(channel: "C1")
            #expect(summaries.count == 3, "storm root, one coalesced digest edit, the closing summary")
            // Alerts still arriving at a storm's rate start a new storm, never reopen the closed one.
            let next = try await store.apply(notification([("z", 0)], group: "g9"))
            #expect(next.storm != storm)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func editsOfOneMessageCoalesceAndANewerEditIsSentAfterOneInFlight(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let root = OutboxMessage(channel: "C1", body: .object(["text": .string("root")]), threadKey: "t", isRoot: true)
            try await store.apply(ChangeSet(slackMessages: [root]))
            let first = try #require(try await store.slackOutbox.due(now: Date(), lease: .seconds(60), budgetPerMinute: 20).first)
            try await store.slackOutbox.markSent(first.id, version: first.version, ts: "1.0", now: Date())
            for edit in 1...100 {
                try await store.apply(ChangeSet(slackMessages: [OutboxMessage(channel: "C1", method: .update, body: .object(["text": .string("edit \(edit)")]),
                                                                              threadKey: "t")]))
            }
            #expect(try await pending(store).count == 1, "100 edits, one pending")
            let due = try #require(try await store.slackOutbox.due(now: Date(), lease: .seconds(60), budgetPerMinute: 20).first)
            #expect(due.message.body["text"] == .string("edit 100"))
            // An edit queued while that one is on its way is not lost: it stays pending, newest body.
            try await store.apply(ChangeSet(slackMessages: [OutboxMessage(channel: "C1", method: .update, body: .object(["text": .string("edit 101")]),
                                                                          threadKey: "t")]))
            try await store.slackOutbox.markSent(due.id, version: due.version, ts: "1.0", now: Date())
            let again = try #require(try await store.slackOutbox.due(now: Date(), lease: .seconds(60), budgetPerMinute: 20).first)
            #expect(again.message.body["text"] == .string("edit 101"))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func anEditCoalescedDuringItsSendGoesAgainBehindWhatWasQueuedMeanwhileAndAFailedOneIsNotLost(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let root = OutboxMessage(channel: "C1", body: .object(["text": .string("root")]), threadKey: "t", isRoot: true)
            try await store.apply(ChangeSet(slackMessages: [root]))
            let first = try #require(try await store.slackOutbox.due(now: Date(), lease: .seconds(60), budgetPerMinute: 20).first)
            try await store.slackOutbox.markSent(first.id, version: first.version, ts: "1.0", now: Date())
            func edit(_ text: String) -> ChangeSet {
                ChangeSet(slackMessages: [OutboxMessage(channel: "C1", method: .update, body: .object(["text": .string(text)]), threadKey: "t")])
            }
            try await store.apply(edit("v1"))
            let sending = try #require(try await store.slackOutbox.due(now: Date(), lease: .seconds(60), budgetPerMinute: 20).first)
            try await store.apply(edit("v2"))  // coalesces into the one being sent
            try await store.apply(ChangeSet(slackMessages: [OutboxMessage(channel: "C1", body: .object(["text": .string("reply")]), threadKey: "t")]))
            try await store.slackOutbox.markSent(sending.id, version: sending.version, ts: "1.0", now: Date())
            let next = try #require(try await store.slackOutbox.due(now: Date(), lease: .seconds(60), budgetPerMinute: 20).first)
            #expect(next.message.body["text"] == .string("reply"), "the edit does not hold the channel's line")
            try await store.slackOutbox.markSent(next.id, version: next.version, ts: "2.0", now: Date())
            let requeued = try #require(try await store.slackOutbox.due(now: Date(), lease: .seconds(60), budgetPerMinute: 20).first)
            #expect(requeued.message.body["text"] == .string("v2"))
            // Slack refuses it while a newer edit coalesces: the newer one is still sent.
            try await store.apply(edit("v3"))
            try await store.slackOutbox.markFailed(requeued.id, version: requeued.version, error: "invalid_blocks", now: Date())
            let last = try #require(try await store.slackOutbox.due(now: Date(), lease: .seconds(60), budgetPerMinute: 20).first)
            #expect(last.message.body["text"] == .string("v3"))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aFloodOfResolutionsStormsInsteadOfPostingOneMessageEach(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let outcome = try await store.apply(notification((0..<8).map { ("r\($0)", 0) }, group: "g1", status: "resolved"))
            #expect(outcome.storm != nil)
            #expect(outcome.jobIDs.compactMap { $0 }.isEmpty, "no resolution message per alert")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aChannelNeverExceedsItsBudgetAMinute(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(slackMessages: (0..<10).map { OutboxMessage(channel: "C1", body: .object(["text": .string("m\($0)")])) }
                                            + [OutboxMessage(channel: "C2", body: .object(["text": .string("other")]))]))
            var sent: [String: Int] = [:]
            let now = Date()
            for _ in 0..<20 {
                for entry in try await store.slackOutbox.due(now: now, lease: .seconds(60), budgetPerMinute: 4) {
                    try await store.slackOutbox.markSent(entry.id, version: entry.version, ts: "1", now: now)
                    sent[entry.message.channel, default: 0] += 1
                }
            }
            #expect(sent == ["C1": 4, "C2": 1])
            let later = try await store.slackOutbox.due(now: now.addingTimeInterval(61), lease: .seconds(60), budgetPerMinute: 4)
            #expect(later.map(\.message.channel) == ["C1"], "the next minute sends again")
        }
    }
}

/// Retention prunes old alerts, finished jobs, sent messages and closed storms in batches; never the
/// audit log. On SQLite and on PostgreSQL.
@Suite struct RetentionTests {
    @Test(arguments: StoreKind.allCases)
    func oldRowsGoTheAuditLogStays(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            var changes = ChangeSet(audit: [AuditDraft(kind: "test_event")])
            for index in 0..<30 {
                changes.alerts.append(AlertRecord(fingerprint: "f\(index)", startsAt: "2026-12-03T10:00:00Z", status: "firing", groupKey: "g", receiver: "am",
                                                  labels: .object([:]), annotations: .object([:]), endsAt: nil, generatorURL: nil,
                                                  receivedAt: Date().addingTimeInterval(index < 20 ? -40 * 86400 : 0), onNew: []))
            }
            try await store.apply(changes)
            let auditBefore = try await store.audit.events(since: nil, limit: 1000).count
            var deleted = 0
            while true {
                let batch = try await store.retention.prune(.alerts, olderThan: Date().addingTimeInterval(-30 * 86400), limit: 7)
                #expect(batch <= 7 + 7 + 7, "one small batch a call")
                deleted += batch
                if batch == 0 { break }
            }
            #expect(deleted == 20)
            #expect(try await store.alerts.list(AlertQuery(limit: 100)).count == 10)
            #expect(try await store.audit.events(since: nil, limit: 1000).count == auditBefore)
            #expect(try await store.audit.verify().ok)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func listingFiringLeavesOutResolvedEpisodesAndHonoursSince(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            func record(_ fingerprint: String, _ status: String, age: TimeInterval) -> AlertRecord {
                AlertRecord(fingerprint: fingerprint, startsAt: "2026-12-03T10:00:00Z", status: status, groupKey: "g", receiver: "am",
                            labels: .object(["alertname": .string(fingerprint)]), annotations: .object([:]), endsAt: nil, generatorURL: nil,
                            receivedAt: Date().addingTimeInterval(-age), onNew: [])
            }
            try await store.apply(ChangeSet(alerts: [record("a", "firing", age: 7200), record("b", "firing", age: 60), record("b", "resolved", age: 30),
                                                     record("c", "firing", age: 10)]))
            #expect(try await store.alerts.list(AlertQuery(firingOnly: true)).map(\.fingerprint) == ["c", "a"])
            #expect(try await store.alerts.list(AlertQuery(since: Date().addingTimeInterval(-3600))).map(\.fingerprint) == ["c", "b", "b"])
        }
    }
}
