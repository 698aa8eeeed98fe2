import Foundation
import HelpdeskCore

/// A Slack Web API message waiting in the outbox.
public struct OutboxMessage: Sendable, Equatable {
    public enum Method: String, Sendable {
        case postMessage = "chat.postMessage"
        case update = "chat.update"
        case postEphemeral = "chat.postEphemeral"
    }

    public var channel: String
    public var method: Method
    /// The Web API arguments besides `channel`, `ts` and `thread_ts`: `text`, `blocks`, `user`.
    public var body: JSONValue
    /// Names a thread: a root message starts it, follow-ups reply in it, updates edit its root.
    public var threadKey: String?
    public var isRoot: Bool
    /// When set, a second message with the same key is never queued (one root per alert group).
    public var onceKey: String?

    public init(channel: String, method: Method = .postMessage, body: JSONValue, threadKey: String? = nil, isRoot: Bool = false, onceKey: String? = nil) {
        self.channel = channel
        self.method = method
        self.body = body
        self.threadKey = threadKey
        self.isRoot = isRoot
        self.onceKey = onceKey
    }
}

public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var message: OutboxMessage
    public var attempts: Int
    /// The thread's root `ts` when the message belongs to a thread whose root was sent.
    public var threadTS: String?
}

/// The durable Slack outbox: messages leave in order per channel, one at a time.
public protocol SlackOutboxStore: Sendable {
    /// The oldest pending message of each channel that is due, leased to the caller for `lease`.
    func due(now: Date, lease: Duration) async throws -> [OutboxEntry]
    func markSent(_ id: Int64, ts: String?, now: Date) async throws
    /// Tries again at `at`; `countAttempt` is false for rate limits, which are not failures.
    func retry(_ id: Int64, at: Date, error: String, countAttempt: Bool) async throws
    func markFailed(_ id: Int64, error: String, now: Date) async throws
    /// Everything queued for a channel, oldest first, for tests and inspection.
    func entries(channel: String?) async throws -> [(id: Int64, channel: String, state: String, ts: String?, error: String?)]
    func waitForMessages(timeout: Duration) async
    /// The `ts` of a thread's root once it was posted.
    func threadRoot(_ key: String) async throws -> (channel: String, ts: String)?
}
