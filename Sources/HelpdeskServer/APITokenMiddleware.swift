import Foundation
import HelpdeskConfig
import HelpdeskCore
import Hummingbird
import HTTPTypes
import Logging

/// Requires `Authorization: Bearer TOKEN` with one of the configured API tokens, and records the
/// principal that token acts as. The token is compared in constant time and never logged.
struct APITokenMiddleware: RouterMiddleware {
    let tokens: [APISettings.Token]

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        guard !tokens.isEmpty else {
            throw APIError(status: .unauthorized, code: "unauthorized", message: "the API is off: no tokens are configured under api.tokens",
                           headers: [.wwwAuthenticate: "Bearer"])
        }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw APIError(status: .unauthorized, code: "unauthorized", message: "send Authorization: Bearer <token>",
                           headers: [.wwwAuthenticate: "Bearer"])
        }
        let presented = Array(header.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces).utf8)
        // Check every token, so the time taken does not say which one came close.
        var principal: String?
        for token in tokens where constantTimeEquals(presented, Array(token.token.reveal().utf8)) {
            principal = token.principal
        }
        guard let principal else {
            context.logger.notice("API request with an unknown token refused")
            throw APIError(status: .unauthorized, code: "unauthorized", message: "the bearer token is not valid",
                           headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "principal"] = "\(principal)"
        return try await next(request, context)
    }
}
