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
    /// When set, the body is rendered when the message is sent, from the state it names, so the
    /// newest state goes out however many changes were queued.
    public var rendered: RenderedBody?
    /// For edits: at least this long between two sends of the message (a storm digest), each
    /// queued edit waiting that long, so edits in between coalesce.
    public var editGap: Duration?

    public init(channel: String, method: Method = .postMessage, body: JSONValue, threadKey: String? = nil, isRoot: Bool = false, onceKey: String? = nil,
                rendered: RenderedBody? = nil, editGap: Duration? = nil) {
        self.channel = channel
        self.method = method
        self.body = body
        self.threadKey = threadKey
        self.isRoot = isRoot
        self.onceKey = onceKey
        self.rendered = rendered
        self.editGap = editGap
    }

    /// Edits of one message coalesce: while an edit is pending, a newer one replaces its body
    /// instead of queueing a second (also when the first is being sent: it is sent again after).
    /// The key is unique per channel (`slack_outbox_coalesce`): the same thread key in two
    /// channels names two messages.
    var coalesceKey: String? {
        guard method == .update, let threadKey else { return nil }
        return "update:\(threadKey)"
    }
}

/// A message body made from stored state when it is sent.
public enum RenderedBody: Sendable, Equatable, LosslessStringConvertible {
    /// The storm's root: counts, largest groups, what is diagnosed.
    case stormDigest(StormID)
    /// Posted in the storm's thread when it ends.
    case stormSummary(StormID)

    public init?(_ description: String) {
        let parts = description.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let id = StormID(parts[1]) else { return nil }
        switch parts[0] {
        case "storm-digest": self = .stormDigest(id)
        case "storm-summary": self = .stormSummary(id)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .stormDigest(let id): "storm-digest:\(id)"
        case .stormSummary(let id): "storm-summary:\(id)"
        }
    }
}

public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    public var message: OutboxMessage
    public var attempts: Int
    /// The thread's root `ts` when the message belongs to a thread whose root was sent in its channel.
    public var threadTS: String?
    /// Bumped by every coalesced edit: a send of an older version leaves the message pending.
    public var version: Int = 0
    /// Where the message was queued from (``ChangeSet/origin``): its send continues that trace.
    public var origin: WorkOrigin? = nil
}

extension OutboxMessage {
    /// The web channel's own channel: what has no Slack channel to go to (Slack off, or no channel
    /// configured) is posted here. Its messages are delivered as they are stored (the web reads them),
    /// and an edit changes its root in place; the Slack sender never sees them. The colon keeps it
    /// apart from every Slack channel id and name.
    public static let webChannel = "helpdesk:web"
}

/// One message as the web channel shows it: what the bot posted to any channel, roots with their newest edit.
public struct FeedEntry: Sendable, Equatable {
    public var id: Int64
    public var channel: String
    public var threadKey: String?
    public var isRoot: Bool
    /// The Web API arguments (`text`, `blocks`); for a root, its newest edit's.
    public var body: JSONValue
    /// When set, the body is made from stored state when shown (a storm's digest or summary).
    public var rendered: RenderedBody?
    public var createdAt: Date

    public init(id: Int64, channel: String, threadKey: String?, isRoot: Bool, body: JSONValue, rendered: RenderedBody?, createdAt: Date) {
        self.id = id
        self.channel = channel
        self.threadKey = threadKey
        self.isRoot = isRoot
        self.body = body
        self.rendered = rendered
        self.createdAt = createdAt
    }
}

/// The durable Slack outbox: messages leave in order per thread, after the thread's root, and one
/// at a time per channel. A reply whose root is not posted yet waits without holding other threads
/// or the channel's messages outside threads. A root given up for good (refused, or out of attempts)
/// holds its thread no longer: its replies go to the channel without a thread, and edits of it fail.
public protocol SlackOutboxStore: Sendable {
    /// At most one due message per channel, leased to the caller for `lease`: the oldest that no
    /// earlier message of its thread (or its thread's unsent root) holds back. Channels in `skipping`
    /// (paused by a rate limit), with a send in flight, or that had `budgetPerMinute` messages sent
    /// in the last minute are passed over; other channels are not held up by them.
    func due(now: Date, lease: Duration, budgetPerMinute: Int, skipping: Set<String>) async throws -> [OutboxEntry]
    /// Sent as `version`; a newer version queued meanwhile stays pending (its `editGap` after `now`).
    func markSent(_ id: Int64, version: Int, ts: String?, now: Date) async throws
    /// Tries again at `at`; `countAttempt` is false for rate limits, which are not failures.
    func retry(_ id: Int64, at: Date, error: String, countAttempt: Bool) async throws
    /// Failed for good as `version`; a newer version queued meanwhile is queued again.
    func markFailed(_ id: Int64, version: Int, error: String, now: Date) async throws
    /// Everything queued for a channel, oldest first, for tests and inspection.
    func entries(channel: String?) async throws -> [(id: Int64, channel: String, state: String, ts: String?, error: String?)]
    func waitForMessages(timeout: Duration) async
    /// The `ts` of a thread's root once it was posted.
    func threadRoot(_ key: String) async throws -> (channel: String, ts: String)?
    /// The newest `limit` messages of every channel, newest first, whatever their delivery state: posts
    /// and replies (not edits or ephemeral answers), each root with its newest edit's body.
    func feed(limit: Int) async throws -> [FeedEntry]
    /// Changes whenever `feed` would show something new: a message posted, or a web channel root edited.
    func feedVersion() async throws -> String
    /// Whether any message of any channel was queued in thread `key` (a web click may answer only in a thread that exists).
    func threadExists(_ key: String) async throws -> Bool
    /// Messages waiting to go to Slack (queued, leased or backing off), every channel's, for `/metrics`:
    /// a count over the pending rows' partial index. Web channel posts are delivered as stored, never pending.
    func pendingCount() async throws -> Int
}

extension SlackOutboxStore {
    /// Due messages of every channel.
    public func due(now: Date, lease: Duration, budgetPerMinute: Int) async throws -> [OutboxEntry] {
        try await due(now: now, lease: lease, budgetPerMinute: budgetPerMinute, skipping: [])
    }
}
