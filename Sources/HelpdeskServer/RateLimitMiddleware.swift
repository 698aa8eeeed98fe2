import Foundation
import HelpdeskConfig
import Hummingbird
import HTTPTypes
import Logging
import Metrics

/// 429 with `Retry-After` for a source that calls the unauthenticated routes (approval pages,
/// the email webhook) too often, or that keeps failing credentials on any route.
struct RateLimitMiddleware: RouterMiddleware {
    let open: SourceRateLimiter
    let failures: SourceRateLimiter
    let proxies: TrustedProxies
    let metrics: any MetricsFactory

    /// Routes anyone may call without a credential; each call takes a token.
    static func isUnauthenticated(_ path: String) -> Bool {
        path.hasPrefix("/approvals/") || path == "/webhooks/email"
    }

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        let source = proxies.clientAddress(peer: context.remoteAddress, forwardedFor: request.headers[values: .xForwardedFor])
        if let wait = failures.isExhausted(source) {
            return refuse(context, source: source, wait: wait, why: "too many failed credentials from this address")
        }
        if Self.isUnauthenticated(request.uri.path), let wait = open.take(source) {
            return refuse(context, source: source, wait: wait, why: "too many requests from this address")
        }
        let response = try await next(request, context)
        if response.status == .unauthorized { _ = failures.take(source) }
        return response
    }

    private func refuse(_ context: AppRequestContext, source: String, wait: Double, why: String) -> Response {
        Counter(label: "helpdesk_http_rate_limited_total", factory: metrics).increment()
        context.logger.notice("rate limited", metadata: ["source": "\(source)", "reason": "\(why)"])
        let seconds = max(1, Int(min(wait, 3600).rounded(.up)))
        return ErrorResponseMiddleware.response(status: .tooManyRequests, headers: [.retryAfter: String(seconds)],
                                                message: "\(why); try again in \(seconds) s", context: context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
