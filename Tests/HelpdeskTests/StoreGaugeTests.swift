import Foundation
import HelpdeskCore
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// The counts `/metrics` samples (outbox backlog, storms open), against SQLite and PostgreSQL alike.
@Suite struct StoreGaugeTests {
    let rules = StormRules(threshold: 5, diagnoseTop: 2, settle: .seconds(15), digestInterval: .seconds(10), quietPeriod: .seconds(60))

    /// One notification of `count` new firing alerts in `channel`: past the threshold of 5, a storm opens there.
    private func notification(_ count: Int, channel: String) -> ChangeSet {
        var changes = ChangeSet()
        for index in 0..<count {
            changes.alerts.append(AlertRecord(
                fingerprint: "\(channel)-\(index)", startsAt: "2026-12-03T10:00:00Z", status: "firing", groupKey: "g-\(channel)", receiver: "am",
                labels: .object(["alertname": .string("A\(index)"), "severity": .string("s")]), annotations: .object([:]),
                endsAt: nil, generatorURL: nil, receivedAt: Date(), onNew: [NewJob(kind: "srebot.alert", payload: "\(channel)-\(index)")]))
        }
        changes.notification = AlertNotificationIntake(
            channel: channel, groupKey: "g-\(channel)", groupName: "g-\(channel)", severity: "warning", ranks: Array(repeating: 0, count: count),
            rules: rules, calmMessages: [OutboxMessage](), postsToSlack: true)
        return changes
    }

    @Test(arguments: StoreKind.allCases)
    func openStormsAreCountedOncePerChannel(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            #expect(try await store.storms.openCount() == 0)
            _ = try await store.apply(notification(3, channel: "C1"))
            #expect(try await store.storms.openCount() == 0, "3 alerts stay under the threshold")
            _ = try await store.apply(notification(8, channel: "C2"))
            _ = try await store.apply(notification(8, channel: "C3"))
            #expect(try await store.storms.openCount() == 2)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func theOutboxBacklogCountsPendingSlackMessagesOnly(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let message = { (channel: String, text: String) in OutboxMessage(channel: channel, body: .object(["text": .string(text)])) }
            try await store.apply(ChangeSet(slackMessages: [message("C1", "one"), message("C1", "two"), message("C2", "three"),
                                                            message(OutboxMessage.webChannel, "delivered as stored")]))
            #expect(try await store.slackOutbox.pendingCount() == 3, "web channel posts are never pending")
            let leased = try await store.slackOutbox.due(now: Date(), lease: .seconds(60), budgetPerMinute: 20)
            #expect(try await store.slackOutbox.pendingCount() == 3, "a leased message is still waiting")
            for entry in leased {
                try await store.slackOutbox.markSent(entry.id, version: entry.version, ts: "\(entry.id).0", now: Date())
            }
            #expect(try await store.slackOutbox.pendingCount() == 3 - leased.count)
            #expect(leased.count == 2, "one message per channel at a time")
        }
    }
}
