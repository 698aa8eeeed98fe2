import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import Hummingbird
import HTTPTypes
import Logging

/// `GET /web/approvals`, `GET /web/approvals/{id}` and the vote posted from it.
extension WebRoutes {
    static let approvalFilters = ["pending", "approved", "denied", "expired", "all"]

    func approvals(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Response {
        let asked = request.uri.queryParameters.get("status") ?? "pending"
        let filter = Self.approvalFilters.contains(asked) ? asked : "pending"
        do {
            let records = try await store.approvals.list(status: ApprovalStatus(rawValue: filter), limit: 200)
            var page = head(visitor, title: "Approvals", tab: .approvals)
            page["filters"] = Self.approvalFilters.map { ["value": $0, "current": $0 == filter] }
            page["status"] = filter
            page["approvals"] = records.map(approvalRow)
            page["empty"] = records.isEmpty
            return render("approvals", page)
        } catch {
            return storeUnavailable(error, context, visitor: visitor)
        }
    }

    func approvalRow(_ record: ApprovalRecord) -> [String: Any] {
        [
            "id": record.id, "call": record.call?.callText ?? "?", "target": record.call?.target ?? "?", "requester": record.requester,
            "status": record.status.rawValue, "count": approvalCount(record), "created": Self.time(record.createdAt),
            "expires": Self.time(record.expiresAt),
        ]
    }

    func approvalCount(_ record: ApprovalRecord) -> String {
        "\(record.votes.filter { $0.vote == .approve }.count) of \(record.quorum) approvals"
    }

    func approval(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Response {
        let id = context.parameters.get("id") ?? ""
        do {
            guard let record = try await store.approvals.approval(id: id) else {
                return message(.notFound, title: "No such request", "There is no approval request \(id).", visitor: visitor)
            }
            return approvalPage(record, visitor: visitor)
        } catch {
            return storeUnavailable(error, context, visitor: visitor)
        }
    }

    /// The detail page; `notice` says what a vote just did.
    func approvalPage(_ record: ApprovalRecord, visitor: WebVisitor, notice: (text: String, done: Bool)? = nil,
                      status: HTTPResponse.Status = .ok) -> Response {
        var view = approvalRow(record)
        view["reason"] = record.policyDecision?.reason ?? ""
        view["policy"] = record.policyDecision?.policy ?? "-"
        let approvers = record.policyDecision?.approvers ?? []
        view["approvers"] = approvers.isEmpty ? "anyone under users: but the requester" : approvers.joined(separator: ", ")
        // Mustache treats an empty string as present: the reason is left out when there is none. Not
        // `reason`, which a vote without one would find on the request (Mustache looks up the context stack).
        view["votes"] = record.votes.map { vote -> [String: Any] in
            var entry: [String: Any] = ["principal": vote.principal, "vote": vote.vote.rawValue, "via": vote.via ?? "-", "time": Self.time(vote.at)]
            if let reason = vote.reason, !reason.isEmpty { entry["vote_reason"] = reason }
            return entry
        }
        let evidence = record.evidence?.lines ?? []
        view["evidence"] = evidence.map { ["line": $0] }
        view["has_evidence"] = !evidence.isEmpty
        if let execution = record.execution {
            var state: [String: Any] = ["state": execution, "time": Self.time(record.executedAt)]
            if let result = record.result { state["result"] = Self.cut(result.prettyJSONText, 4000) }
            view["execution"] = state
        }
        if record.status == .pending {
            view["form"] = ["action": "/web/approvals/\(record.id)"]
        }
        var page = head(visitor, title: "Approval request \(record.id)", tab: .approvals)
        page["approval"] = view
        if let notice {
            page["notice"] = notice.text
            page["notice_class"] = notice.done ? "done" : "refused"
        }
        return render("approval_detail", page, status: status)
    }

    /// Records the vote inline, through the gate, as the signed-in person with `via` "web"; the page
    /// then says what happened (200 counted, 403 refused, 409 already voted or decided, 410 expired).
    func vote(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor, _ fields: [String: String]) async -> Response {
        let id = context.parameters.get("id") ?? ""
        guard let governance else {
            return message(.serviceUnavailable, title: "Approvals are off", "This server has no gate to record votes with.", visitor: visitor)
        }
        guard let decision = fields["decision"], decision == "approve" || decision == "deny" else {
            return message(.badRequest, title: "No decision", "Choose Approve or Deny.", visitor: visitor)
        }
        let reason = fields["reason"].flatMap { $0.isEmpty ? nil : String($0.prefix(500)) }
        let result: VoteResult
        do {
            result = try await governance.vote(on: id, by: visitor.principal, approve: decision == "approve", reason: reason, via: "web")
        } catch {
            context.logger.error("web vote failed", metadata: ["approval": "\(id)", "error": "\(error)"])
            return message(.internalServerError, title: "Something went wrong", "Your decision was not recorded; try again.", visitor: visitor)
        }
        context.logger.info("web vote", metadata: ["approval": "\(id)", "user": "\(visitor.user.name)", "decision": "\(decision)"])
        switch result {
        case .recorded(let record, _), .approved(let record), .denied(let record):
            return approvalPage(record, visitor: visitor, notice: (result.message, true))
        case .alreadyDecided(let record):
            return approvalPage(record, visitor: visitor, notice: (result.message, false), status: .conflict)
        case .expired(let record):
            return approvalPage(record, visitor: visitor, notice: (result.message, false), status: .gone)
        case .refused(let why):
            let status: HTTPResponse.Status = why.contains("already voted") ? .conflict : .forbidden
            guard let record = try? await store.approvals.approval(id: id) else {
                return message(status, title: "Not recorded", why, visitor: visitor)
            }
            return approvalPage(record, visitor: visitor, notice: (why, false), status: status)
        case .notFound:
            return message(.notFound, title: "No such request", result.message, visitor: visitor)
        }
    }
}
