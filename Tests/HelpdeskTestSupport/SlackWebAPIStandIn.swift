import Foundation
import HelpdeskLLM
import Synchronization

/// The Slack Web API for outbox tests: records every call and answers it as `answer` decides from
/// the call and the calls before it; an ok post gets a new `ts`, as Slack would give it.
public final class SlackWebAPIStandIn: HTTPTransport {
    public enum Answer: Sendable, Equatable {
        case ok
        /// HTTP 429 with `Retry-After`.
        case rateLimited(retryAfter: Int)
        /// HTTP 500.
        case serverError
        /// `ok: false` with Slack's error code.
        case refused(String)
    }

    public struct Call: Sendable {
        /// `chat.postMessage`, `chat.update`, …
        public var method: String
        public var channel: String?
        public var text: String?
        /// The thread a reply went to.
        public var threadTS: String?
        /// The message an edit changed.
        public var ts: String?
        /// The request body as sent, to tell a retried message from another.
        public var body: String
        public var at: ContinuousClock.Instant
        public var answer: Answer
        /// The `ts` an ok post was given.
        public var posted: String?
    }

    private struct State {
        var calls: [Call] = []
        var nextTS = 1_700_000_000
    }

    private let state = Mutex(State())
    private let answer: @Sendable (_ call: Call, _ earlier: [Call]) -> Answer

    /// `answer` decides each call; by default every call is ok.
    public init(answer: @escaping @Sendable (_ call: Call, _ earlier: [Call]) -> Answer = { _, _ in .ok }) {
        self.answer = answer
    }

    /// Every call so far, in the order they arrived.
    public var calls: [Call] { state.withLock { $0.calls } }

    public func post(_ url: URL, contentType: String, headers: [(String, String)], body: Data,
                     timeout: Duration) async throws -> (status: Int, headers: [String: String], body: Data) {
        let fields = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        let request = Call(method: url.lastPathComponent, channel: fields["channel"] as? String, text: fields["text"] as? String,
                           threadTS: fields["thread_ts"] as? String, ts: fields["ts"] as? String,
                           body: String(decoding: body, as: UTF8.self), at: .now, answer: .ok, posted: nil)
        let decide = answer
        let reply: (status: Int, headers: [String: String], body: String) = state.withLock { state in
            var call = request
            call.answer = decide(request, state.calls)
            defer { state.calls.append(call) }
            switch call.answer {
            case .ok:
                state.nextTS += 1
                let ts = "\(state.nextTS).000100"
                call.posted = ts
                return (200, [:], #"{"ok":true,"channel":"\#(request.channel ?? "")","ts":"\#(ts)"}"#)
            case .rateLimited(let seconds):
                return (429, ["retry-after": "\(seconds)"], #"{"ok":false,"error":"ratelimited"}"#)
            case .serverError:
                return (500, [:], #"{"ok":false}"#)
            case .refused(let code):
                return (200, [:], #"{"ok":false,"error":"\#(code)"}"#)
            }
        }
        return (reply.status, reply.headers, Data(reply.body.utf8))
    }
}
