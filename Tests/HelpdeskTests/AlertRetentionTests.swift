import Foundation
import HelpdeskCore
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// Retention of alerts and of the Slack threads they head: an alert still firing is never pruned, a
/// resolved one goes by the age of its resolution, and a thread goes with its group or storm.
@Suite struct AlertRetentionTests {
    static let day: TimeInterval = 86400
    let cutoff = Date().addingTimeInterval(-30 * AlertRetentionTests.day)

    private func record(_ fingerprint: String, _ status: String, age: TimeInterval, group: String = "g") -> AlertRecord {
        AlertRecord(fingerprint: fingerprint, startsAt: "2026-12-03T10:00:00Z", status: status, groupKey: group, receiver: "am",
                    labels: .object(["alertname": .string(fingerprint)]), annotations: .object([:]), endsAt: nil, generatorURL: nil,
                    receivedAt: Date().addingTimeInterval(-age), onNew: [])
    }

    /// Prunes `.alerts` in batches of `limit` until nothing is left; checks each batch stays small.
    private func pruneAll(_ store: any Store, limit: Int = 3) async throws {
        while true {
            let batch = try await store.retention.prune(.alerts, olderThan: cutoff, limit: limit)
            // Alerts, groups (thread, root, row), storms (thread, root, summary, row) and counters: each bounded by `limit`.
            #expect(batch <= 12 * limit, "one small batch a call")
            if batch == 0 { break }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aFiringAlertStillSentIsNeverPrunedAndAResolvedOneGoesByItsResolutionAge(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let day = Self.day
            try await store.apply(ChangeSet(alerts: [
                record("firing-still-sent", "firing", age: 40 * day), record("firing-gone-quiet", "firing", age: 40 * day),
                record("resolved-lately", "firing", age: 40 * day), record("resolved-lately", "resolved", age: 1 * day),
                record("resolved-long-ago", "firing", age: 50 * day), record("resolved-long-ago", "resolved", age: 35 * day),
                record("repeat-within-10m", "firing", age: 30 * day + 300), record("repeat-after-11m", "firing", age: 30 * day + 300),
            ]))
            // Alertmanager re-sends what still fires; a repeat refreshes seen_at only when it is 10 minutes old.
            try await store.apply(ChangeSet(alerts: [
                record("firing-still-sent", "firing", age: 1 * day), record("repeat-within-10m", "firing", age: 30 * day - 120),
                record("repeat-after-11m", "firing", age: 30 * day - 360),
            ]))
            try await pruneAll(store)
            let left = try await store.alerts.list(AlertQuery(limit: 100)).map { "\($0.fingerprint)/\($0.status)" }.sorted()
            #expect(left == ["firing-still-sent/firing", "repeat-after-11m/firing", "resolved-lately/firing", "resolved-lately/resolved"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aGroupsThreadIsPrunedWithTheGroupAndAStormsWithTheStorm(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let day = Self.day
            let rules = StormRules(threshold: 5, diagnoseTop: 1, settle: .seconds(1), digestInterval: .seconds(1), quietPeriod: .seconds(60))
            func notification(_ group: String, channel: String, alerts: Int, age: TimeInterval) -> ChangeSet {
                var changes = ChangeSet(alerts: (0..<alerts).map { record("\(group)-\($0)-\(Int(age))", "firing", age: age, group: group) })
                changes.notification = AlertNotificationIntake(
                    channel: channel, groupKey: group, groupName: group, severity: "warning", ranks: Array(repeating: 0, count: alerts), rules: rules,
                    calmMessages: [OutboxMessage(channel: channel, body: .object(["text": .string("root \(group)")]), threadKey: "alertgroup:\(group)",
                                                 isRoot: true, onceKey: "alert-root:\(group)")],
                    postsToSlack: true, receivedAt: Date().addingTimeInterval(-age))
                return changes
            }
            _ = try await store.apply(notification("g-old", channel: "C1", alerts: 1, age: 40 * day))
            _ = try await store.apply(notification("g-live", channel: "C1", alerts: 1, age: 40 * day))
            _ = try await store.apply(notification("g-live", channel: "C1", alerts: 1, age: 3600))  // still alerting
            let storm = try #require(try await store.apply(notification("g-storm", channel: "C2", alerts: 10, age: 40 * day)).storm)
            #expect(try await store.storms.closeQuiet(now: Date().addingTimeInterval(-39 * day)) == [storm])
            var ts = 0
            for _ in 0..<5 {
                for entry in try await store.slackOutbox.due(now: Date().addingTimeInterval(60), lease: .seconds(60), budgetPerMinute: 1000) {
                    ts += 1
                    try await store.slackOutbox.markSent(entry.id, version: entry.version, ts: "1700000000.\(ts)", now: Date())
                }
            }
            #expect(try await store.slackOutbox.threadRoot("alertgroup:g-old") != nil)
            #expect(try await store.slackOutbox.threadRoot(StormSnapshot.threadKey(storm)) != nil)

            try await pruneAll(store, limit: 1)
            #expect(try await store.slackOutbox.threadRoot("alertgroup:g-old") == nil, "its group was not seen for 40 days")
            #expect(try await store.slackOutbox.threadRoot(StormSnapshot.threadKey(storm)) == nil, "closed 39 days ago")
            #expect(try await store.slackOutbox.threadRoot("alertgroup:g-live") != nil, "seen an hour ago")
            // The live group's root is kept, so its next notification queues no second root.
            _ = try await store.apply(notification("g-live", channel: "C1", alerts: 1, age: 0))
            #expect(try await store.slackOutbox.entries(channel: "C1").filter { $0.state == "pending" }.isEmpty)
        }
    }
}
