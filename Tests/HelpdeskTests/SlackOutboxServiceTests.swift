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
        // Every edit but the newest is answered 429 with Retry-After: 6, however long a loaded machine takes
        // to queue the hundred; everything else goes through. An edit sent with an older text is refused,
        // so an old body kept by mistake never gets through.
        let slack = SlackWebAPIStandIn { call, _ in
            call.method == "chat.update" && call.text != "edit 100" ? .rateLimited(retryAfter: 6) : .ok
        }
        try await withService(slack) { store in
            try await store.apply(ChangeSet(slackMessages: [post("C1", "root", thread: "t", root: true)]))
            #expect(await eventually(timeout: .seconds(60)) { try await settled(store) })
            let edit = { (text: String) in
                OutboxMessage(channel: "C1", method: .update, body: .object(["text": .string(text)]), threadKey: "t")
            }
            try await store.apply(ChangeSet(slackMessages: [edit("edit 1")]))
            #expect(await eventually(timeout: .seconds(60)) { slack.calls.contains { $0.method == "chat.update" } })
            let firstRefusal = try #require(slack.calls.first { $0.method == "chat.update" }?.at)
            // Queued one by one while the channel waits out the Retry-After.
            for number in 2...100 { try await store.apply(ChangeSet(slackMessages: [edit("edit \(number)")])) }
            let queueing = ContinuousClock.now - firstRefusal
            #expect(await eventually(timeout: .seconds(60)) {
                try await settled(store) && slack.calls.contains { $0.method == "chat.update" && $0.answer == .ok }
            })
            try await Task.sleep(for: .milliseconds(300))

            let rootTS = try #require(slack.calls.first { $0.method == "chat.postMessage" }?.posted)
            let edits = slack.calls.filter { $0.method == "chat.update" }
            // One refused, then one carrying the newest text; a machine slower to queue than Retry-After adds
            // one refused edit (the newest so far) per 6 s it took, never one per queued edit.
            let refusalsAllowed = 1 + Int(queueing / .seconds(6))
            try #require(edits.count >= 2 && edits.count <= refusalsAllowed + 1,
                         "refused with 429 while queueing (\(queueing)), then one edit: \(edits.map(\.text))")
            #expect(edits.dropLast().allSatisfy { $0.answer == .rateLimited(retryAfter: 6) } && edits.last?.answer == .ok)
            #expect(edits.last?.text == "edit 100")
            #expect(edits.allSatisfy { $0.ts == rootTS })
            #expect(zip(edits, edits.dropFirst()).allSatisfy { $1.at - $0.at >= .milliseconds(5950) }, "Retry-After is honoured")
        }
    }

    @Test func aRateLimitPausesItsWholeChannelAndNoOther() async throws {
        // Channel A's first call is answered 429 with a Retry-After of an hour, which the test never waits out:
        // B finishing at all shows it did not wait for A's pause, however slowly a loaded machine polls.
        // (A Retry-After honoured, then sending again: aHundredEditsQueuedWhileRateLimited….)
        let slack = SlackWebAPIStandIn { call, earlier in
            call.channel == "CA" && !earlier.contains { $0.channel == "CA" } ? .rateLimited(retryAfter: 3600) : .ok
        }
        try await withService(slack) { store in
            try await store.apply(ChangeSet(slackMessages: [
                post("CA", "a1", thread: "a1", root: true), post("CA", "a2", thread: "a2", root: true),
                post("CB", "b1"), post("CB", "b2"), post("CB", "b3"),
            ]))
            let bSent = await eventually(timeout: .seconds(60)) {
                try await store.slackOutbox.entries(channel: "CB").allSatisfy { $0.state == "sent" }
            }
            #expect(bSent, "B did not wait for A's Retry-After")
            let a = slack.calls.filter { $0.channel == "CA" }
            let b = slack.calls.filter { $0.channel == "CB" }
            #expect(b.map(\.text) == ["b1", "b2", "b3"] && b.allSatisfy { $0.answer == .ok })
            // Were only a1 held back, a2 (a due root of its own thread) would have gone with b2, a poll before b3.
            #expect(a.map(\.text) == ["a1"] && a.map(\.answer) == [.rateLimited(retryAfter: 3600)],
                    "A's other thread waits out the Retry-After too: \(a.map(\.text))")
            #expect(try await store.slackOutbox.entries(channel: "CA").map(\.state) == ["pending", "pending"])
        }
    }

    @Test func aReplyWaitsForItsRetriedRootWhileAnotherThreadGoes() async throws {
        // Root A is answered 500 until root B has been sent (retries 1 s, 2 s, 4 s… apart): B going at all shows a
        // retrying root holds up only its own thread, whenever a loaded machine polls; a root that held the
        // channel would never let B go.
        let slack = SlackWebAPIStandIn { call, earlier in
            call.text == "root A" && !earlier.contains { $0.text == "root B" } ? .serverError : .ok
        }
        try await withService(slack) { store in
            try await store.apply(ChangeSet(slackMessages: [
                post("C1", "root A", thread: "a", root: true), post("C1", "reply A", thread: "a"),
                post("C1", "root B", thread: "b", root: true),
            ]))
            #expect(await eventually(timeout: .seconds(60)) { try await settled(store) })
            let calls = slack.calls
            let texts = calls.map { $0.text ?? "" }
            let rootA = calls.filter { $0.text == "root A" }
            try #require(rootA.count >= 2 && texts.filter { $0 == "root B" }.count == 1 && texts.filter { $0 == "reply A" }.count == 1,
                         "\(texts)")
            #expect(rootA.map(\.answer) == [SlackWebAPIStandIn.Answer](repeating: .serverError, count: rootA.count - 1) + [.ok])
            #expect(Set(rootA.map(\.body)).count == 1, "the retried root is the same message")
            #expect(calls.last?.text == "reply A", "the reply waited for its retried root: \(texts)")
            #expect(calls.filter { $0.text != "reply A" }.allSatisfy { $0.threadTS == nil })
            #expect(calls.last?.threadTS != nil && calls.last?.threadTS == rootA.last?.posted, "the reply went into its root's thread, after it")
        }
    }

    @Test func aRefusedRootLetsItsRepliesGoToTheChannel() async throws {
        let slack = SlackWebAPIStandIn { call, _ in call.text == "root" ? .refused("invalid_blocks") : .ok }
        try await withService(slack) { store in
            try await store.apply(ChangeSet(slackMessages: [
                post("C1", "root", thread: "r", root: true), post("C1", "reply", thread: "r"),
                OutboxMessage(channel: "C1", method: .update, body: .object(["text": .string("edit")]), threadKey: "r"),
            ]))
            #expect(await eventually(timeout: .seconds(60)) { try await settled(store) })
            #expect(slack.calls.map(\.text) == ["root", "reply"], "the edit has no message to edit and is not sent")
            #expect(slack.calls.last?.threadTS == nil)
            let states = try await store.slackOutbox.entries(channel: "C1").map(\.state)
            #expect(states == ["failed", "sent", "failed"])
        }
    }
}
