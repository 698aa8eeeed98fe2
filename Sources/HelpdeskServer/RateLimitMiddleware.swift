import Foundation
import HelpdeskConfig
import HelpdeskCore
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

    /// Routes anyone may call without a credential; each call takes a token. Compared by segment,
    /// as the router matches (`//webhooks/email/` reaches the same route). The web channel's sign-in
    /// page is one (its failures are limited per source and user besides, by its login throttle).
    static func isUnauthenticated(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return segments.first == "approvals" || segments == ["webhooks", "email"] || segments == ["login"]
    }

    /// Probes from the orchestrator and the load balancer are never limited.
    static func isHealthProbe(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return segments == ["healthz"] || segments == ["readyz"]
    }

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        if Self.isHealthProbe(request.uri.path) { return try await next(request, context) }
        let source = Self.source(of: request, context: context, proxies: proxies)
        if let wait = failures.isExhausted(source) {
            return refuse(context, source: source, wait: wait, why: "too many failed credentials from this address")
        }
        if Self.isUnauthenticated(request.uri.path), let wait = open.take(source) {
            return refuse(context, source: source, wait: wait, why: "too many requests from this address")
        }
        // Checked before and counted after, so concurrent requests can all pass before the first failure is
        // counted. Taking the token up front would cap every address's concurrent requests (Alertmanager, or
        // all clients behind an untrusted proxy) at failed_auth_per_minute; the costly case, Argon2id keys,
        // is admitted atomically by SourceFailureWindow instead.
        let response = try await next(request, context)
        if response.status == .unauthorized { _ = failures.take(source) }
        return response
    }

    /// The bucket of the client behind `request`: its address as the trusted proxies report it. The web
    /// channel's login throttle counts by the same key.
    static func source(of request: Request, context: AppRequestContext, proxies: TrustedProxies) -> String {
        let client = proxies.clientAddress(peer: context.remoteAddress, forwardedFor: request.headers[values: .xForwardedFor])
        return TrustedProxies.bucketKey(client)
    }

    private func refuse(_ context: AppRequestContext, source: String, wait: Double, why: String) -> Response {
        Counter(label: MetricCatalog.httpRateLimited.name, factory: metrics).increment()
        context.logger.notice("rate limited", metadata: ["source": "\(source)", "reason": "\(why)"])
        let seconds = max(1, Int(min(wait, 3600).rounded(.up)))
        return ErrorResponseMiddleware.response(status: .tooManyRequests, headers: [.retryAfter: String(seconds)],
                                                message: "\(why); try again in \(seconds) s", context: context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
