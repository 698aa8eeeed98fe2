import Foundation
import HelpdeskCore
import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import ServiceLifecycle
import Testing

/// The outbox service against a Web API stand-in that rate-limits, fails and refuses.
@Suite struct SlackOutboxServiceTests {
    /// A store, and the outbox service sending it to `slack` while `body` runs; shut down after.
    private func withService(_ slack: SlackWebAPIStandIn, _ body: (SQLiteStore) async throws -> Void) async throws {
        let folder = try TemporaryDirectory()
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let base = try #require(URL(string: "https://slack.test/api/"))
        let api = SlackWebAPI(baseURL: base, token: Secret("xoxb-test"), transport: slack)
        let service = SlackOutboxService(store: store, api: api, pacing: .milliseconds(20), budgetPerMinute: 100, logger: logger)
        let group = ServiceGroup(services: [service], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            try await body(store)
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
        try await store.close()
        folder.remove()
    }

    private func post(_ channel: String, _ text: String, thread: String? = nil, root: Bool = false) -> OutboxMessage {
        OutboxMessage(channel: channel, body: .object(["text": .string(text)]), threadKey: thread, isRoot: root)
    }

    private func settled(_ store: SQLiteStore) async throws -> Bool {
        try await store.slackOutbox.entries(channel: nil).allSatisfy { $0.state != "pending" }
    }

    @Test func aHundredEditsQueuedWhileRateLimitedGoOutAsOneEditAfterRetryAfter() async throws {
        // The first edit is answered 429 with Retry-After: 6 (long enough for the 99 edits below to be
        // queued one by one even on a loaded CI machine); everything else goes through.
        let slack = SlackWebAPIStandIn { call, earlier in
            call.method == "chat.update" && !earlier.contains { $0.method == "chat.update" } ? .rateLimited(retryAfter: 6) : .ok
        }
        try await withService(slack) { store in
            try await store.apply(ChangeSet(slackMessages: [post("C1", "root", thread: "t", root: true)]))
            #expect(await eventually(timeout: .seconds(30)) { try await settled(store) })
            let edit = { (text: String) in
                OutboxMessage(channel: "C1", method: .update, body: .object(["text": .string(text)]), threadKey: "t")
            }
            try await store.apply(ChangeSet(slackMessages: [edit("edit 1")]))
            #expect(await eventually(timeout: .seconds(30)) { slack.calls.contains { $0.method == "chat.update" } })
            // Queued one by one while the channel waits out the Retry-After.
            for number in 2...100 { try await store.apply(ChangeSet(slackMessages: [edit("edit \(number)")])) }
            #expect(await eventually(timeout: .seconds(30)) { try await settled(store) && slack.calls.filter { $0.method == "chat.update" }.count >= 2 })
            try await Task.sleep(for: .milliseconds(300))

            let rootTS = try #require(slack.calls.first { $0.method == "chat.postMessage" }?.posted)
            let edits = slack.calls.filter { $0.method == "chat.update" }
            try #require(edits.count == 2, "one edit refused with 429, then one carrying the newest text: \(edits.map(\.text))")
            #expect(edits[0].answer == .rateLimited(retryAfter: 6) && edits[1].answer == .ok)
            #expect(edits[1].text == "edit 100")
            #expect(edits.allSatisfy { $0.ts == rootTS })
            #expect(edits[1].at - edits[0].at >= .milliseconds(5950), "Retry-After is honoured")
        }
    }

    @Test func aRateLimitPausesItsWholeChannelAndNoOther() async throws {
        // Channel A's first call is answered 429 with Retry-After: 2.
        let slack = SlackWebAPIStandIn { call, earlier in
            call.channel == "CA" && !earlier.contains { $0.channel == "CA" } ? .rateLimited(retryAfter: 2) : .ok
        }
        try await withService(slack) { store in
            try await store.apply(ChangeSet(slackMessages: [
                post("CA", "a1", thread: "a1", root: true), post("CA", "a2", thread: "a2", root: true),
                post("CB", "b1"), post("CB", "b2"), post("CB", "b3"),
            ]))
            #expect(await eventually(timeout: .seconds(30)) { try await settled(store) })
            let a = slack.calls.filter { $0.channel == "CA" }
            let b = slack.calls.filter { $0.channel == "CB" }
            try #require(a.count == 3, "a1 refused once, then a1 and a2: \(a.map(\.text))")
            #expect(a[0].answer == .rateLimited(retryAfter: 2))
            #expect(a[1].at - a[0].at >= .milliseconds(1950), "A's other thread waited out the Retry-After too")
            #expect(Set(a.dropFirst().map(\.text)) == ["a1", "a2"] && a.dropFirst().allSatisfy { $0.answer == .ok })
            #expect(b.map(\.text) == ["b1", "b2", "b3"] && b.allSatisfy { $0.answer == .ok })
            // Compared with A's own resumption, not a wall-clock bound: a loaded machine polls late, but in order.
            #expect(b.allSatisfy { $0.at < a[1].at }, "B did not wait for A's Retry-After")
        }
    }

    @Test func aReplyWaitsForItsRetriedRootWhileAnotherThreadGoes() async throws {
        // Root A is answered 500 once (retried about a second later).
        let slack = SlackWebAPIStandIn { call, earlier in
            call.text == "root A" && !earlier.contains { $0.text == "root A" } ? .serverError : .ok
        }
        try await withService(slack) { store in
            try await store.apply(ChangeSet(slackMessages: [
                post("C1", "root A", thread: "a", root: true), post("C1", "reply A", thread: "a"),
                post("C1", "root B", thread: "b", root: true),
            ]))
            #expect(await eventually(timeout: .seconds(30)) { try await settled(store) })
            let calls = slack.calls
            #expect(calls.map(\.text) == ["root A", "root B", "root A", "reply A"])
            try #require(calls.count == 4)
            #expect(calls[0].body == calls[2].body, "the retried root is the same message")
            #expect(calls[0].threadTS == nil && calls[1].threadTS == nil && calls[2].threadTS == nil)
            #expect(calls[3].threadTS == calls[2].posted, "the reply went into its root's thread, after it")
        }
    }

    @Test func aRefusedRootLetsItsRepliesGoToTheChannel() async throws {
        let slack = SlackWebAPIStandIn { call, _ in call.text == "root" ? .refused("invalid_blocks") : .ok }
        try await withService(slack) { store in
            try await store.apply(ChangeSet(slackMessages: [
                post("C1", "root", thread: "r", root: true), post("C1", "reply", thread: "r"),
                OutboxMessage(channel: "C1", method: .update, body: .object(["text": .string("edit")]), threadKey: "r"),
            ]))
            #expect(await eventually(timeout: .seconds(30)) { try await settled(store) })
            #expect(slack.calls.map(\.text) == ["root", "reply"], "the edit has no message to edit and is not sent")
            #expect(slack.calls.last?.threadTS == nil)
            let states = try await store.slackOutbox.entries(channel: "C1").map(\.state)
            #expect(states == ["failed", "sent", "failed"])
        }
    }
}
