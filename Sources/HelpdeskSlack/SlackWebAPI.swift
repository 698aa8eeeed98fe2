import Foundation
import HelpdeskCore
import HelpdeskHTTPClient

/// What one Web API call came to.
public enum SlackAPIResult: Sendable, Equatable {
    case ok(ts: String?)
    /// HTTP 429 (or `ok:false, error:ratelimited`): wait this long.
    case rateLimited(retryAfter: Duration)
    /// 5xx or the network: worth another try.
    case transient(String)
    /// `ok:false` with Slack's error code: trying again will not help.
    case failed(code: String)
}

/// The Slack Web API methods the bot uses, over `slack.api_base_url` with the bot token.
public struct SlackWebAPI: Sendable {
    let baseURL: URL
    let token: Secret
    let transport: any HTTPTransport

    public init(baseURL: URL, token: Secret, transport: any HTTPTransport = AsyncHTTPTransport()) {
        self.baseURL = baseURL
        self.token = token
        self.transport = transport
    }

    public func call(_ method: String, _ arguments: JSONValue) async -> SlackAPIResult {
        let url = baseURL.appendingPathComponent(method)
        let reply: (status: Int, headers: [String: String], body: Data)
        do {
            reply = try await transport.postJSON(url, headers: [("authorization", "Bearer \(token.reveal())")],
                                                 body: Data(arguments.jsonText.utf8), timeout: .seconds(15))
        } catch {
            return .transient("\(error)")
        }
        if reply.status == 429 {
            let seconds = reply.headers["retry-after"].flatMap(Double.init) ?? 1
            return .rateLimited(retryAfter: .milliseconds(Int64(max(seconds, 0) * 1000)))
        }
        if reply.status >= 500 { return .transient("HTTP \(reply.status)") }
        guard let body = try? JSONDecoder().decode(JSONValue.self, from: reply.body) else {
            return reply.status >= 400 ? .failed(code: "http_\(reply.status)") : .transient("the reply is not JSON")
        }
        if body["ok"] == .bool(true) { return .ok(ts: body["ts"]?.description) }
        let code = body["error"]?.description ?? "unknown_error"
        return code == "ratelimited" ? .rateLimited(retryAfter: .seconds(1)) : .failed(code: code)
    }
}
