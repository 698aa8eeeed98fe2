import Foundation
import HelpdeskCore
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// The web channel reads the outbox: its own messages are delivered as stored, edits change roots
/// in place, and the feed shows every channel's posts with their roots' newest edits (SQLite and PostgreSQL).
@Suite struct WebFeedStoreTests {
    private let web = OutboxMessage.webChannel

    private func post(_ channel: String, _ text: String, thread: String? = nil, root: Bool = false, once: String? = nil) -> OutboxMessage {
        OutboxMessage(channel: channel, body: .object(["text": .string(text)]), threadKey: thread, isRoot: root, onceKey: once)
    }

    private func edit(_ channel: String, _ text: String, thread: String) -> OutboxMessage {
        OutboxMessage(channel: channel, method: .update, body: .object(["text": .string(text)]), threadKey: thread)
    }

    @Test(arguments: StoreKind.allCases)
    func webMessagesAreDeliveredAsStoredAndNeverReachTheSlackSender(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(slackMessages: [post(web, "root", thread: "t", root: true), post(web, "reply", thread: "t")]))
            let due = try await store.slackOutbox.due(now: Date().addingTimeInterval(60), lease: .seconds(60), budgetPerMinute: 20)
            #expect(due.isEmpty, "the Slack sender never sees the web channel")
            let states = try await store.slackOutbox.entries(channel: web).map(\.state)
            #expect(states == ["sent", "sent"])
            // Recorded as a Slack send is, once per post; a repeated root (its once key) and an edit record nothing.
            try await store.apply(ChangeSet(slackMessages: [post(web, "again", thread: "t", root: true, once: "root:t"),
                                                            post(web, "again", thread: "t", root: true, once: "root:t"), edit(web, "edited", thread: "t")]))
            let sent = try await store.audit.latest(AuditFilter(kind: "message_sent"), limit: 10)
            #expect(sent.count == 3 && sent.allSatisfy { $0.target == web && $0.data.contains("\"web\"") })
        }
    }

    @Test(arguments: StoreKind.allCases)
    func anEditOfAWebRootChangesItInPlaceAndTheFeedVersion(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(slackMessages: [post(web, "storm: 3 alerts", thread: "storm", root: true)]))
            let before = try await store.slackOutbox.feedVersion()
            try await Task.sleep(for: .milliseconds(5))
            try await store.apply(ChangeSet(slackMessages: (1...20).map { edit(web, "storm: \($0 + 3) alerts", thread: "storm") }))
            let rows = try await store.slackOutbox.entries(channel: web)
            #expect(rows.count == 1, "edits add no rows")
            let feed = try await store.slackOutbox.feed(limit: 10)
            #expect(feed.map { $0.body["text"] } == [.string("storm: 23 alerts")])
            #expect(try await store.slackOutbox.feedVersion() != before)
            // An edit of a thread with no root in the web channel changes nothing.
            try await store.apply(ChangeSet(slackMessages: [edit(web, "nobody", thread: "missing")]))
            #expect(try await store.slackOutbox.entries(channel: web).count == 1)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func theFeedShowsEveryChannelsPostsWithTheNewestEditOfEachRoot(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(slackMessages: [
                post("C1", "alert firing", thread: "g1", root: true), post("C1", "diagnosis", thread: "g1"),
                post(web, "command", thread: "w1", root: true),
            ]))
            let version = try await store.slackOutbox.feedVersion()
            try await store.apply(ChangeSet(slackMessages: [
                edit("C1", "alert resolved", thread: "g1"),
                OutboxMessage(channel: "C1", method: .postEphemeral, body: .object(["text": .string("only for one"), "user": .string("U1")])),
                post(web, "answer", thread: "w1"),
            ]))
            let feed = try await store.slackOutbox.feed(limit: 50)
            #expect(feed.map { $0.body["text"] } == [.string("answer"), .string("command"), .string("diagnosis"), .string("alert resolved")],
                    "newest first; edits and ephemeral answers are not posts; the root shows its newest edit")
            #expect(feed.map(\.isRoot) == [false, true, false, true])
            #expect(feed.last?.channel == "C1")
            #expect(try await store.slackOutbox.feedVersion() != version)
            #expect(try await store.slackOutbox.feed(limit: 2).count == 2)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aWebRootWithAOnceKeyIsPostedOnce(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            for _ in 1...3 {
                try await store.apply(ChangeSet(slackMessages: [post(web, "group root", thread: "g", root: true, once: "alert-root:g")]))
            }
            #expect(try await store.slackOutbox.feed(limit: 10).count == 1)
        }
    }
}
