import Foundation
import HelpdeskCore
import Hummingbird
import Logging
import HTTPTypes

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
}

/// Gives every request an id — the caller's `X-Request-Id` when it is sane, else a new one — puts it
/// on the request's logger and echoes it in the response.
struct RequestIDMiddleware: RouterMiddleware {
    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        let id = request.headers[.requestID].flatMap(Self.acceptable) ?? Self.newID()
        context.requestID = id
        context.logger[metadataKey: "request_id"] = "\(id)"
        // Work this request queues (jobs, messages) carries the id on (``WorkOrigin``).
        var response = try await WorkOrigin.$currentRequestID.withValue(id) { try await next(request, context) }
        response.headers[.requestID] = id
        return response
    }

    /// Accepts ids a proxy or peer may send (UUIDs, hex, trace ids); anything else could inject into logs.
    static func acceptable(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count),
              value.utf8.allSatisfy({ $0 < 128 && (isalnum(Int32($0)) != 0 || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")) })
        else { return nil }
        return value
    }

    static func newID() -> String {
        UUID().uuidString.lowercased()
    }
}
