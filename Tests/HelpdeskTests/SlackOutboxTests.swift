import Foundation
import HelpdeskCore
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// The outbox's order against a real store (SQLite and PostgreSQL): per thread after its root, per channel one at a
/// time and within its budget, edits coalesced per channel.
@Suite struct SlackOutboxTests {
    private func post(_ channel: String, _ text: String, thread: String? = nil, root: Bool = false) -> OutboxMessage {
        OutboxMessage(channel: channel, body: .object(["text": .string(text)]), threadKey: thread, isRoot: root)
    }

    private func edit(_ channel: String, _ text: String, thread: String, gap: Duration? = nil) -> OutboxMessage {
        OutboxMessage(channel: channel, method: .update, body: .object(["text": .string(text)]), threadKey: thread, editGap: gap)
    }

    /// Leases what is due at `now` (messages are due from when they were queued: take `now` after).
    private func due(_ store: any Store, at now: Date, budget: Int = 20, skipping: Set<String> = []) async throws -> [OutboxEntry] {
        try await store.slackOutbox.due(now: now, lease: .seconds(60), budgetPerMinute: budget, skipping: skipping)
    }

    /// Sent as Slack would: `ts` is "ID.0".
    private func sent(_ store: any Store, _ entry: OutboxEntry, at now: Date) async throws {
        try await store.slackOutbox.markSent(entry.id, version: entry.version, ts: "\(entry.id).0", now: now)
    }

    /// Sends whatever is due at `now` until nothing is, and returns it in the order it went.
    private func drain(_ store: any Store, at now: Date) async throws -> [OutboxEntry] {
        var sentSoFar: [OutboxEntry] = []
        while true {
            let batch = try await due(store, at: now)
            if batch.isEmpty { return sentSoFar }
            for entry in batch { try await sent(store, entry, at: now) }
            sentSoFar += batch
        }
    }

    private func texts(_ entries: [OutboxEntry]) -> [JSONValue?] {
        entries.map { $0.message.body["text"] }
    }

    @Test(arguments: StoreKind.allCases)
    func aKeyReusedInTwoChannelsNamesTwoMessages(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(slackMessages: [post("C1", "root", thread: "t", root: true)]))
            let root = try #require(try await drain(store, at: Date()).first)
            let edits = (1...50).flatMap { [edit("C1", "C1 edit \($0)", thread: "t"), edit("C2", "C2 edit \($0)", thread: "t")] }
            try await store.apply(ChangeSet(slackMessages: edits))
            let pending = try await store.slackOutbox.entries(channel: nil).filter { $0.state == "pending" }
            #expect(pending.map(\.channel).sorted() == ["C1", "C2"], "one pending edit per channel, not one in all")
            let leased = try await due(store, at: Date()).sorted { $0.message.channel < $1.message.channel }
            #expect(texts(leased) == [.string("C1 edit 50"), .string("C2 edit 50")])
            #expect(leased.first?.threadTS == "\(root.id).0")
            #expect(leased.last?.threadTS == nil, "C1's root is not a message of C2")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aReplyWaitsForItsRootWithoutHoldingOtherThreadsOrTheChannel(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(slackMessages: [
                post("C1", "root A", thread: "a", root: true), post("C1", "reply A", thread: "a"),
                post("C1", "root B", thread: "b", root: true), post("C1", "reply B", thread: "b"), post("C1", "top"),
            ]))
            let now = Date()
            let rootA = try #require(try await due(store, at: now).first)
            #expect(texts([rootA]) == [.string("root A")])
            try await store.slackOutbox.retry(rootA.id, at: now.addingTimeInterval(30), error: "HTTP 500", countAttempt: true)

            let meanwhile = try await drain(store, at: now)
            #expect(texts(meanwhile) == [.string("root B"), .string("reply B"), .string("top")], "reply A waits; nothing else does")
            try #require(meanwhile.count == 3)
            #expect(meanwhile[1].threadTS == "\(meanwhile[0].id).0")

            let later = try await drain(store, at: now.addingTimeInterval(31))
            #expect(texts(later) == [.string("root A"), .string("reply A")])
            try #require(later.count == 2)
            #expect(later[1].threadTS == "\(rootA.id).0", "the reply goes into its root's thread")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aReplyQueuedBeforeItsRootStillWaitsForIt(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(slackMessages: [
                post("C1", "early reply", thread: "c"), post("C1", "root C", thread: "c", root: true),
            ]))
            let order = try await drain(store, at: Date())
            #expect(texts(order) == [.string("root C"), .string("early reply")])
            try #require(order.count == 2)
            #expect(order[1].threadTS == "\(order[0].id).0")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aRootGivenUpHoldsItsRepliesNoLonger(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(slackMessages: [
                post("C1", "root G", thread: "g", root: true), post("C1", "reply G", thread: "g"), edit("C1", "edit G", thread: "g"),
            ]))
            let now = Date()
            let root = try #require(try await due(store, at: now).first)
            try await store.slackOutbox.retry(root.id, at: now.addingTimeInterval(30), error: "HTTP 500", countAttempt: true)
            #expect(try await due(store, at: now).isEmpty, "its reply and its edit wait while the root is retried")
            // Out of attempts (or refused): given up for good.
            let again = try #require(try await due(store, at: now.addingTimeInterval(31)).first)
            #expect(again.id == root.id)
            try await store.slackOutbox.markFailed(again.id, version: again.version, error: "HTTP 500", now: now)
            let rest = try await drain(store, at: now.addingTimeInterval(31))
            #expect(texts(rest) == [.string("reply G"), .string("edit G")])
            #expect(rest.allSatisfy { $0.threadTS == nil },
                    "the reply goes to the channel; the edit has nothing to edit and fails when sent")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func anEditWaitingForItsGapHoldsNoReply(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(slackMessages: [post("C1", "storm", thread: "s", root: true)]))
            _ = try await drain(store, at: Date())
            try await store.apply(ChangeSet(slackMessages: [
                edit("C1", "digest", thread: "s", gap: .seconds(10)), post("C1", "diagnosis", thread: "s"),
            ]))
            let now = Date()
            let rightAway = try await drain(store, at: now)
            #expect(texts(rightAway) == [.string("diagnosis")], "the edit waits for its gap; the reply does not wait for the edit")
            let afterTheGap = try await drain(store, at: now.addingTimeInterval(11))
            #expect(texts(afterTheGap) == [.string("digest")])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aChannelSendsOneAtATimeWithinItsBudgetAndAPausedOrSpentChannelHoldsNoOther(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(slackMessages: (0..<10).map { post("C1", "root \($0)", thread: "t\($0)", root: true) }
                                            + (0..<3).map { post("C2", "other \($0)") }))
            let now = Date()
            let first = try await due(store, at: now)
            #expect(first.map(\.message.channel).sorted() == ["C1", "C2"], "one message per channel, however many threads")
            #expect(try await due(store, at: now).isEmpty, "each channel has a send in flight")
            for entry in first { try await sent(store, entry, at: now) }

            let unpaused = try await due(store, at: now, skipping: ["C1"])
            #expect(unpaused.map(\.message.channel) == ["C2"], "a paused channel is passed over, the other goes")
            for entry in unpaused { try await sent(store, entry, at: now) }

            var count = ["C1": 1, "C2": 2]
            for _ in 0..<30 {
                for entry in try await due(store, at: now, budget: 4) {
                    try await sent(store, entry, at: now)
                    count[entry.message.channel, default: 0] += 1
                }
            }
            #expect(count == ["C1": 4, "C2": 3], "C1 stops at 4 a minute across all its threads; C2 is not held up")
            let nextMinute = try await due(store, at: now.addingTimeInterval(61), budget: 4)
            #expect(nextMinute.map(\.message.channel) == ["C1"], "the next minute sends again")
        }
    }
}
