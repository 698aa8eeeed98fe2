import Foundation
import HelpdeskCore
import HelpdeskStore

/// One message of the feed, ready to show.
public struct WebMessage: Sendable, Equatable {
    public var id: Int64
    public var createdAt: Date
    /// The outbox channel: ``OutboxMessage/webChannel`` or a Slack channel id.
    public var channel: String
    public var isRoot: Bool
    public var blocks: [WebBlock]

    public init(id: Int64, createdAt: Date, channel: String, isRoot: Bool, blocks: [WebBlock]) {
        self.id = id
        self.createdAt = createdAt
        self.channel = channel
        self.isRoot = isRoot
        self.blocks = blocks
    }

    /// `web`, or `Slack #C0123` for what went to a Slack channel too.
    public var channelLabel: String {
        channel == OutboxMessage.webChannel ? "web" : "Slack #\(channel)"
    }

    /// `2026-11-24T11:50:00Z`.
    public var time: String { createdAt.formatted(.iso8601) }

    /// `11:50`, in UTC like ``time`` (the page has no idea of the reader's zone without script).
    public var shortTime: String {
        let seconds = Int64(createdAt.timeIntervalSince1970.rounded(.down))
        let ofDay = (seconds % 86_400 + 86_400) % 86_400
        let hours = ofDay / 3600, minutes = ofDay % 3600 / 60
        return (hours < 10 ? "0" : "") + String(hours) + ":" + (minutes < 10 ? "0" : "") + String(minutes)
    }

    /// The template's view: `id`, `time`, `time_short`, `channel`, `is_web`, `is_root` and `blocks`
    /// (see ``WebBlock/view(thread:)``; each button carries `thread`).
    public func view(thread: String) -> [String: Any] {
        ["id": String(id), "time": time, "time_short": shortTime, "channel": channelLabel, "is_web": channel == OutboxMessage.webChannel,
         "is_root": isRoot, "blocks": blocks.map { $0.view(thread: thread) }]
    }
}

/// A thread of the feed: a root and its replies, oldest first.
public struct WebThread: Sendable, Equatable {
    /// The outbox thread key, or `message:ID` for a message posted outside any thread, so a reply to
    /// it (a button's answer) posted with that key joins it.
    public var key: String
    public var messages: [WebMessage]

    public init(key: String, messages: [WebMessage]) {
        self.key = key
        self.messages = messages
    }

    /// The newest message's time: threads are ordered by it.
    public var latest: Date { messages.map(\.createdAt).max() ?? .distantPast }

    /// The template's view: `thread` (the key) and `messages`.
    public var view: [String: Any] {
        // A message outside any thread has a key of its own for the page only: its buttons name no thread,
        // and their answer starts one (a click may only answer in a thread the bot started).
        let buttonThread = key.hasPrefix(WebFeed.ownThreadPrefix) ? "" : key
        return ["thread": key, "messages": messages.map { $0.view(thread: buttonThread) }]
    }
}

/// The feed as threads, from the outbox's newest entries (`SlackOutboxStore.feed(limit:)`).
public enum WebFeed {
    /// The most threads a page shows.
    public static let maxThreads = 50

    /// The thread key of an entry posted outside any thread.
    public static func ownThreadKey(_ id: Int64) -> String { ownThreadPrefix + String(id) }
    static let ownThreadPrefix = "message:"

    /// Groups `entries` into threads, newest activity first, at most ``maxThreads``; in a thread the
    /// root comes first, then the replies by id. An entry with a `rendered` body is made from stored
    /// state by `rendered` (the storm digest); when that fails or gives nothing, its stored body is shown.
    ///
    ///     let threads = await WebFeed.threads(try await store.outbox.feed(limit: 500), rendered: composition.renderStored)
    public static func threads(_ entries: [FeedEntry], rendered: @Sendable (RenderedBody) async throws -> JSONValue?) async -> [WebThread] {
        var groups: [String: [FeedEntry]] = [:]
        for entry in entries {
            groups[entry.threadKey ?? ownThreadKey(entry.id), default: []].append(entry)
        }
        let ordered = groups.map { group in
            (key: group.key, entries: group.value.sorted { ($0.isRoot ? 0 : 1, $0.id) < ($1.isRoot ? 0 : 1, $1.id) })
        }.sorted { newest($0.entries) > newest($1.entries) }.prefix(maxThreads)
        var threads: [WebThread] = []
        for group in ordered {
            var messages: [WebMessage] = []
            for entry in group.entries {
                var body = entry.body
                if let source = entry.rendered, let made = try? await rendered(source) { body = made }
                messages.append(WebMessage(id: entry.id, createdAt: entry.createdAt, channel: entry.channel, isRoot: entry.isRoot,
                                           blocks: BlockKitHTML.blocks(body)))
            }
            threads.append(WebThread(key: group.key, messages: messages))
        }
        return threads
    }

    /// The newest activity of a thread: its latest message, by time then id (ids break ties in a second).
    private static func newest(_ entries: [FeedEntry]) -> (Date, Int64) {
        entries.map { ($0.createdAt, $0.id) }.max { $0 < $1 } ?? (.distantPast, 0)
    }

    /// The view of `threads` for `feed_fragment.mustache`.
    public static func view(_ threads: [WebThread]) -> [[String: Any]] {
        threads.map(\.view)
    }
}
