import Foundation
import HelpdeskStore
import Hummingbird
import Logging
import HTTPTypes
import NIOCore

/// Turns every error into one JSON shape for the whole API:
/// `{"error": {"code": "not_found", "message": "..."}, "request_id": "..."}`.
/// Errors that are not HTTP errors become a generic 500; their detail goes to the log only.
struct ErrorResponseMiddleware: RouterMiddleware {
    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }

        var error: Detail
        var requestID: String

        enum CodingKeys: String, CodingKey {
            case error
            case requestID = "request_id"
        }
    }

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return jsonResponse(status: error.status, extraHeaders: error.headers,
                                Body(error: .init(code: error.code, message: error.message), requestID: context.requestID))
        } catch let error as HTTPError {
            let message = error.body ?? (error.status == .notFound ? "no route for \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            return Self.response(status: error.status, headers: error.headers, message: message, context: context)
        } catch let error as StoreError where error.isUnavailable {
            // Nothing was recorded: the sender retries (Alertmanager does), the operator sees /readyz fail.
            context.logger.warning("request refused: the store is unavailable", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return jsonResponse(status: .serviceUnavailable, extraHeaders: [.retryAfter: "5"],
                                Body(error: .init(code: "store_unavailable",
                                                  message: "the bot cannot record this request right now (its store is unavailable); nothing was done, retry later"),
                                     requestID: context.requestID))
        } catch let error as any HTTPResponseError {
            return Self.response(status: error.status, headers: [:], message: error.status.reasonPhrase, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return Self.response(status: .internalServerError, headers: [:], message: "internal error; see the server log for request \(context.requestID)", context: context)
        }
    }

    static func response(status: HTTPResponse.Status, headers: HTTPFields, message: String, context: AppRequestContext) -> Response {
        let code = status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
        return jsonResponse(status: status, extraHeaders: headers, Body(error: .init(code: code, message: message), requestID: context.requestID))
    }
}

/// An error with its own code for API callers to switch on (`approval_required`, `unknown_tool`).
struct APIError: Error {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var headers: HTTPFields = [:]
}

/// Encodes `value` as a JSON response.
func jsonResponse(status: HTTPResponse.Status, extraHeaders: HTTPFields = [:], _ value: some Encodable) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    var headers = extraHeaders
    headers[.contentType] = "application/json; charset=utf-8"
    headers[.contentLength] = String(data.count)
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
