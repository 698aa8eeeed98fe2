import HelpdeskCore
import HelpdeskStore
import Hummingbird
import Logging

/// Records every authenticated API request in the audit log as it arrives (who, what, request
/// id), before any handler acts on it. A request that cannot be recorded is refused.
struct AuditRequestMiddleware: RouterMiddleware {
    let store: any Store

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        do {
            try await store.apply(ChangeSet(audit: [AuditDraft(
                kind: "request_received", principal: context.principal, target: nil,
                data: .object(["method": .string(request.method.rawValue), "path": .string(request.uri.path),
                               "request_id": .string(context.requestID)]))]))
        } catch {
            context.logger.error("cannot write the audit event of a request; refusing it", metadata: ["error": "\(error)"])
            throw APIError(status: .serviceUnavailable, code: "audit_unavailable", message: "the audit log cannot be written; try again shortly")
        }
        return try await next(request, context)
    }
}
