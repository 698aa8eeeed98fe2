import Foundation
import HelpdeskCore
@_exported import HelpdeskHTTPClient

/// Sends one request with retries for rate limits, overload and server errors (honouring
/// `Retry-After`), and turns the reply into JSON or an ``LLMError`` naming what went wrong.
struct JSONPoster: Sendable {
    let transport: any HTTPTransport
    let timeout: Duration
    let attempts: Int
    let backoff: Duration

    func post(_ url: URL, headers: [(String, String)], body: JSONValue, errorMessage: (JSONValue) -> String?) async throws -> JSONValue {
        let data = Data(body.jsonText.utf8)
        var lastError = LLMError("no attempt made")
        for attempt in 1...attempts {
            do {
                let reply = try await transport.postJSON(url, headers: headers, body: data, timeout: timeout)
                let parsed = try? JSONDecoder().decode(JSONValue.self, from: reply.body)
                guard (200..<300).contains(reply.status) else {
                    let detail = parsed.flatMap(errorMessage) ?? String(decoding: reply.body.prefix(300), as: UTF8.self)
                    let retryable = reply.status == 429 || reply.status == 529 || reply.status >= 500
                    let retryAfter = RetryAfter.parse(reply.headers["retry-after"])
                    throw LLMError("HTTP \(reply.status): \(detail)", retryable: retryable, retryAfter: retryAfter)
                }
                guard let parsed else {
                    throw LLMError("the reply is not JSON: \(String(decoding: reply.body.prefix(200), as: UTF8.self))")
                }
                return parsed
            } catch let error as HTTPTransportError {
                lastError = LLMError(error.description, retryable: true)
                guard attempt < attempts else { throw lastError }
                try await Task.sleep(for: Backoff(base: backoff, max: .seconds(30)).delay(afterAttempt: attempt, jitter: .random(in: 0...1)))
            } catch let error as LLMError {
                lastError = error
                guard error.retryable, attempt < attempts else { throw error }
                let wait = min(error.retryAfter ?? Backoff(base: backoff, max: .seconds(30)).delay(afterAttempt: attempt, jitter: .random(in: 0...1)),
                               .seconds(30))
                try await Task.sleep(for: wait)
            }
        }
        throw lastError
    }
}
