import Foundation
import HelpdeskLLM
import Synchronization

/// An HTTP transport that answers from a script and records every request, for model clients.
public final class ScriptedTransport: HTTPTransport {
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String

        public init(status: Int = 200, headers: [String: String] = [:], _ body: String) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    public struct Request: Sendable {
        public var url: URL
        public var headers: [String: String]
        public var body: Data

        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    private let replies: Mutex<[Reply]>
    private let log = Mutex<[Request]>([])

    public init(_ replies: [Reply]) {
        self.replies = Mutex(replies)
    }

    public var requests: [Request] { log.withLock { $0 } }

    public func post(_ url: URL, contentType: String, headers: [(String, String)], body: Data, timeout: Duration) async throws -> (status: Int, headers: [String: String], body: Data) {
        log.withLock { $0.append(Request(url: url, headers: Dictionary(headers, uniquingKeysWith: { $1 }), body: body)) }
        let reply = replies.withLock { $0.isEmpty ? Reply(status: 599, "script exhausted") : $0.removeFirst() }
        return (reply.status, reply.headers, Data(reply.body.utf8))
    }
}
