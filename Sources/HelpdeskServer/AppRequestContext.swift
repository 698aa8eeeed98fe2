import Hummingbird
import Logging
import NIOCore

/// Per-request state shared by the middleware and the routes.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Echoed in `X-Request-Id` and attached to every log line of this request.
    public var requestID = ""
    /// Set from `server.max_body_bytes` by ``BodyLimitMiddleware``.
    public var maxUploadSize = 1_048_576
    /// Who an authenticated API request acts as.
    public var principal: String?

    /// The peer's IP address (a proxy's, behind one: see `server.trusted_proxies`).
    public var remoteAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
