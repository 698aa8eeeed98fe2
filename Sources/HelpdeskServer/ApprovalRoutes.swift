import Foundation
import HelpdeskConfig
import HelpdeskGovernance
import HelpdeskStore
import Hummingbird
import Logging

/// Approvals and audit over HTTP, compatible with aiHelpDesk's auditd: `GET /v1/approvals`,
/// `/v1/approvals/pending`, `/v1/approvals/{id}`, `POST /v1/approvals/{id}/approve|deny`
/// (`{"approved_by"|"denied_by", "reason"}`), and `GET /v1/verify` for the audit chain.
struct ApprovalRoutes {
    let governance: Governance
    let store: any Store
    /// Bearer keys: tokens and service accounts.
    let authentication: APITokenMiddleware

    struct DecisionBody: Decodable {
        var approvedBy: String?
        var deniedBy: String?
        var reason: String?

        enum CodingKeys: String, CodingKey {
            case approvedBy = "approved_by", deniedBy = "denied_by", reason
        }
    }

    func register(on router: Router<AppRequestContext>) {
        let v1 = router.group("/v1").add(middleware: authentication).add(middleware: AuditRequestMiddleware(store: store))
        v1.get("/approvals") { request, _ in
            let status = request.uri.queryParameters.get("status").flatMap(ApprovalStatus.init(rawValue:))
            return jsonResponse(status: .ok, ["approvals": try await store.approvals.list(status: status, limit: 500)])
        }
        v1.get("/approvals/pending") { _, _ in
            jsonResponse(status: .ok, ["approvals": try await store.approvals.list(status: .pending, limit: 500)])
        }
        v1.get("/approvals/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let record = try await store.approvals.approval(id: id) else {
                throw APIError(status: .notFound, code: "not_found", message: "no approval request \(id)")
            }
            return jsonResponse(status: .ok, record)
        }
        v1.post("/approvals/:id/approve") { request, context in try await decide(request, context, approve: true) }
        v1.post("/approvals/:id/deny") { request, context in try await decide(request, context, approve: false) }
        v1.get("/verify") { _, _ in
            let verification = try await store.audit.verify()
            return jsonResponse(status: verification.ok ? .ok : .conflict, verification)
        }
    }

    /// The token decides who votes: a body naming someone else is refused, never believed.
    private func decide(_ request: Request, _ context: AppRequestContext, approve: Bool) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        let body: DecisionBody
        do {
            body = try await request.decode(as: DecisionBody.self, context: context)
        } catch {
            throw APIError(status: .badRequest, code: "bad_request", message: "send {\"\(approve ? "approved_by" : "denied_by")\": NAME, \"reason\": TEXT}")
        }
        let caller = context.principal ?? "anonymous"
        if let named = approve ? body.approvedBy : body.deniedBy, named != caller {
            throw APIError(status: .forbidden, code: "forbidden", message: "this token acts as \(caller), not \(named)")
        }
        let principal = governance.principal(named: caller)
        let result = try await governance.vote(on: id, by: principal, approve: approve, reason: body.reason, via: "api")
        context.logger.info("approval vote via API", metadata: ["approval": "\(id)", "approve": "\(approve)", "result": "\(result.message)"])
        switch result {
        case .recorded(let record, _), .approved(let record), .denied(let record):
            return jsonResponse(status: .ok, VoteResponse(result: resultName(result), message: result.message, approval: record))
        case .alreadyDecided(let record), .expired(let record):
            return jsonResponse(status: .conflict, VoteResponse(result: resultName(result), message: result.message, approval: record))
        case .refused(let why):
            throw APIError(status: .forbidden, code: "not_allowed", message: why)
        case .notFound:
            throw APIError(status: .notFound, code: "not_found", message: result.message)
        }
    }

    private func resultName(_ result: VoteResult) -> String {
        switch result {
        case .recorded: "recorded"
        case .approved: "approved"
        case .denied: "denied"
        case .alreadyDecided: "already_decided"
        case .expired: "expired"
        case .refused: "refused"
        case .notFound: "not_found"
        }
    }

    private struct VoteResponse: Encodable {
        var result: String
        var message: String
        var approval: ApprovalRecord
    }
}
