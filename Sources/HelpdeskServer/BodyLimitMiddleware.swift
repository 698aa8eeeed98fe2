import Hummingbird
import NIOCore
import Logging

/// Refuses request bodies over `server.max_body_bytes` with 413 before any route reads them, and
/// buffers the rest so routes (signature checks) can read the raw body more than once.
struct BodyLimitMiddleware: RouterMiddleware {
    let limit: Int

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        context.maxUploadSize = limit
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw HTTPError(.contentTooLarge, message: "request body of \(declared) bytes is over the limit of \(limit) bytes")
        }
        // Every method: a GET or DELETE with a chunked body must not get past the limit either.
        var request = request
        do {
            _ = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: "request body is over the limit of \(limit) bytes")
        }
        return try await next(request, context)
    }
}
