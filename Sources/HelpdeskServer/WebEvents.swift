import Foundation
import HelpdeskStore
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// Counts the open `/web/events` streams of the process: each holds a connection and polls the store
/// every second, so at most `limit` are open at once, and at most `perPerson` for one person (one person's
/// tabs must not take every place).
final class WebEventStreams: Sendable {
    let limit: Int
    let perPerson: Int
    private let open = NIOLockedValueBox((total: 0, byPerson: [String: Int]()))

    init(limit: Int, perPerson: Int = 4) {
        self.limit = max(0, limit)
        self.perPerson = max(0, perPerson)
    }

    /// Streams open now.
    var count: Int { open.withLockedValue { $0.total } }

    /// A place for one stream of `person`, or `nil` when every place (or that person's share) is taken.
    /// The place is given back when the slot goes away — the stream ended, its write failed, or its
    /// response was never written — so no path can leak one.
    func admit(person: String) -> Slot? {
        let admitted = open.withLockedValue { open -> Bool in
            guard open.total < limit, open.byPerson[person, default: 0] < perPerson else { return false }
            open.total += 1
            open.byPerson[person, default: 0] += 1
            return true
        }
        return admitted ? Slot(self, person: person) : nil
    }

    fileprivate func release(_ person: String) {
        open.withLockedValue { open in
            open.total -= 1
            let left = open.byPerson[person, default: 1] - 1
            open.byPerson[person] = left > 0 ? left : nil
        }
    }

    final class Slot: Sendable {
        private let streams: WebEventStreams
        private let person: String

        fileprivate init(_ streams: WebEventStreams, person: String) {
            self.streams = streams
            self.person = person
        }

        deinit {
            streams.release(person)
        }
    }
}

/// The body of `/web/events`: `event: feed` with the feed's version whenever it changes (the store
/// polled every `poll`), a comment every `keepalive` so proxies keep the connection, and the end
/// when the server shuts down gracefully (at once, not at the next poll), when the session expires,
/// or when a write fails (the client went away).
enum WebEventStream {
    static func body(store: any Store, slot: WebEventStreams.Slot, until expires: Date?, poll: Duration = .seconds(1),
                     keepalive: Duration = .seconds(15), stillSignedIn: @escaping @Sendable () async -> Bool = { true },
                     logger: Logger) -> ResponseBody {
        ResponseBody { writer in
            // The slot lives as long as this closure: its place is given back however the stream ends.
            _ = slot
            var version = try? await store.slackOutbox.feedVersion()
            // Sent at once, so the browser's EventSource opens (and the page shows "live") without waiting for news.
            try await writer.write(ByteBuffer(string: "retry: 5000\n: open\n\n"))
            var quiet = Duration.zero
            var sinceCheck = Duration.zero
            while !Task.isShuttingDownGracefully, !Task.isCancelled, expires.map({ Date() < $0 }) ?? true {
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: poll) }
                } catch {
                    break
                }
                quiet += poll
                sinceCheck += poll
                // Signed out (on any replica) or removed from the users: the stream ends within a keepalive.
                if sinceCheck >= keepalive {
                    sinceCheck = .zero
                    if await !stillSignedIn() { break }
                }
                let current: String?
                do {
                    current = try await store.slackOutbox.feedVersion()
                } catch {
                    // An unavailable store is a pause, not the end: the next poll tries again.
                    logger.debug("feed version unavailable", metadata: ["error": "\(error)"])
                    current = nil
                }
                if let current, current != version {
                    version = current
                    try await writer.write(ByteBuffer(string: "event: feed\ndata: \(eventData(current))\n\n"))
                    quiet = .zero
                } else if quiet >= keepalive {
                    try await writer.write(ByteBuffer(string: ": keepalive\n\n"))
                    quiet = .zero
                }
            }
            try await writer.finish(nil)
        }
    }

    /// One `data:` line: a line break in it would end the field early.
    static func eventData(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0 != "\n" && $0 != "\r" }.prefix(200).map(Character.init))
    }
}
