import Foundation
import HelpdeskConfig
import HelpdeskCore
import Hummingbird
import HTTPTypes
import Logging

/// Requires `Authorization: Bearer KEY` with one of the configured API tokens or a service account's
/// key, and records the principal it acts as (`service:ID` for an account). ``BearerKeyVerifier``
/// decides, at a bounded cost; the key is never logged: the principal is, at debug, on success, and
/// the source address, at notice, on failure.
struct APITokenMiddleware: RouterMiddleware {
    let credentials: BearerCredentials
    let verifier: BearerKeyVerifier
    /// To find the client's address behind trusted proxies, as the rate limits do.
    let proxies: TrustedProxies

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        guard !credentials.isEmpty else {
            throw APIError(status: .unauthorized, code: "unauthorized",
                           message: "the API is off: no tokens are configured under api.tokens and no service accounts in users.file",
                           headers: [.wwwAuthenticate: "Bearer"])
        }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw APIError(status: .unauthorized, code: "unauthorized", message: "send Authorization: Bearer <token>",
                           headers: [.wwwAuthenticate: "Bearer"])
        }
        let presented = Array(BearerKeyText.trimmed(header.dropFirst("bearer ".count)).utf8)
        guard !presented.isEmpty else {
            throw APIError(status: .unauthorized, code: "unauthorized", message: "send Authorization: Bearer <token>",
                           headers: [.wwwAuthenticate: "Bearer"])
        }
        let client = proxies.clientAddress(peer: context.remoteAddress, forwardedFor: request.headers[values: .xForwardedFor])
        let source = TrustedProxies.bucketKey(client)
        let principal: String
        switch await verifier.verify(presented, source: source, against: credentials) {
        case .accepted(let who):
            principal = who
            context.logger.debug("API key accepted", metadata: ["principal": "\(who)"])
        case .rejected:
            context.logger.notice("API request with an unknown token refused", metadata: ["source": "\(source)"])
            throw APIError(status: .unauthorized, code: "unauthorized", message: "the bearer token is not valid",
                           headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
        case .throttled(let seconds):
            context.logger.notice("API key not checked: too many failed keys from this source, or one is being checked",
                                  metadata: ["source": "\(source)"])
            throw APIError(status: .tooManyRequests, code: "too_many_failed_keys",
                           message: "too many failed API keys from this address, or another of its keys is being checked; "
                               + "try again in \(seconds) s",
                           headers: [.retryAfter: String(seconds)])
        case .busy(let seconds, let reason):
            let why: String = switch reason {
            case .full: "too many API keys are being checked right now"
            case .expired: "the API key waited too long for a place to be checked"
            case .shutDown: "the server is shutting down"
            case .cancelled, .abandoned: "the request was cancelled before its API key was checked"
            }
            context.logger.warning("API key not checked: \(why)", metadata: ["source": "\(source)"])
            throw APIError(status: .serviceUnavailable, code: "key_check_busy", message: "\(why); try again in \(seconds) s",
                           headers: [.retryAfter: String(seconds)])
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "principal"] = "\(principal)"
        return try await next(request, context)
    }
}
