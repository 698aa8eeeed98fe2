import Foundation
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import Hummingbird
import HTTPTypes
import Logging
import Mustache
import NIOCore

/// The page an approval link opens. `GET /approvals/{id}?t=TOKEN` only shows (mail scanners fetch
/// links); `POST /approvals/{id}` with the page's form and its CSRF value records the decision.
/// Refused links get a page saying why and a 4xx, never a decision.
struct ApprovalPageRoutes {
    let links: ApprovalLinks?
    let pages: MustacheLibrary?
    let governance: Governance?
    let store: any Store

    func register(on router: Router<AppRequestContext>) {
        router.get("/approvals/:id") { request, context in await show(request, context) }
        router.post("/approvals/:id") { request, context in await decide(request, context) }
    }

    private func page(_ status: HTTPResponse.Status, _ context: [String: Any]) -> Response {
        let html = pages?.render(context, withTemplate: "approval")
            ?? "<!doctype html><title>helpdesk</title><p>\(HTMLEscaping.escaped("\(context["message"] ?? "")"))</p>"
        return Response(status: status, headers: [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            HTTPField.Name("Referrer-Policy")!: "no-referrer", HTTPField.Name("X-Robots-Tag")!: "noindex",
            .contentSecurityPolicy: WebResponse.approvalLinkPolicy, HTTPField.Name("X-Frame-Options")!: "DENY", .xContentTypeOptions: "nosniff",
        ], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    private func refusal(_ title: String, _ message: String, _ status: HTTPResponse.Status) -> Response {
        page(status, ["title": title, "message": message, "message_class": "refused"])
    }

    /// Checks the link: its claims, or the page to answer with instead.
    private func claims(_ token: String?, id: String) -> (claims: ApprovalLinks.Claims?, refused: Response?) {
        guard let links, governance != nil else {
            return (nil, refusal("Approval links are off", "This server has no approval link key (approvals.link_key).", .serviceUnavailable))
        }
        guard let token, !token.isEmpty else {
            return (nil, refusal("Link incomplete", "This link has no token. Open the link from your email again.", .badRequest))
        }
        do {
            return (try links.verify(token, approvalID: id, now: Date()), nil)
        } catch let refusal where refusal == .expired {
            return (nil, self.refusal("Link expired", "This approval link has expired; nothing was decided.", .gone))
        } catch {
            return (nil, refusal("Link not valid", "This link is not a valid approval link; nothing was decided.", .forbidden))
        }
    }

    private func view(_ record: ApprovalRecord) -> [String: Any] {
        let left = record.expiresAt.timeIntervalSinceNow
        var fields: [String: Any] = [
            "call": record.call?.callText ?? "?",
            "target": record.call?.target ?? "?", "requester": record.requester,
            "reason": record.policyDecision?.reason ?? "", "policy": record.policyDecision?.policy ?? "-",
            "status": record.status.rawValue, "approvals": String(record.votes.filter { $0.vote == .approve }.count), "quorum": String(record.quorum),
            "time_left": left > 0 ? "\(Int(left / 60)) min" : "expired",
            // Mustache treats an empty string as present: leave the reason out when there is none.
            "votes": record.votes.map { vote -> [String: Any] in
                var entry: [String: Any] = ["principal": vote.principal, "vote": vote.vote.rawValue]
                if let reason = vote.reason, !reason.isEmpty { entry["reason"] = reason }
                return entry
            },
        ]
        // What the approver decides on: the action's effect, its incident and finding, the session it ends.
        if let evidence = record.evidence { fields["evidence"] = ["lines": evidence.lines.map { ["text": $0] }] }
        return fields
    }

    private func show(_ request: Request, _ context: AppRequestContext) async -> Response {
        let id = context.parameters.get("id") ?? ""
        let token = request.uri.queryParameters.get("t")
        let checked = claims(token, id: id)
        guard let claims = checked.claims, let links, let token else {
            return checked.refused ?? refusal("Link not valid", "", .forbidden)
        }
        guard let record = try? await store.approvals.approval(id: id) else {
            return refusal("No such request", "There is no approval request \(id).", .notFound)
        }
        context.logger.info("approval page viewed", metadata: ["approval": "\(id)", "approver": "\(claims.approver)"])
        var page: [String: Any] = ["title": "Approval request \(id)", "request": view(record)]
        if record.status != .pending {
            page["message"] = "Already decided: \(record.status.rawValue) by \(record.decidedBy ?? "expiry"), at \(record.decidedAt?.formatted(.iso8601) ?? "?")."
            page["message_class"] = "done"
            return self.page(.conflict, page)
        }
        if record.votes.contains(where: { $0.principal == claims.approver }) {
            page["message"] = "You (\(claims.approver)) have already decided on this request."
            page["message_class"] = "done"
            return self.page(.conflict, page)
        }
        page["form"] = ["action": "/approvals/\(id)", "token": token, "csrf": links.csrf(for: token), "approver": claims.approver]
        return self.page(.ok, page)
    }

    private func decide(_ request: Request, _ context: AppRequestContext) async -> Response {
        let id = context.parameters.get("id") ?? ""
        var request = request
        guard let body = try? await request.collectBody(upTo: context.maxUploadSize) else {
            return refusal("Request too large", "", .contentTooLarge)
        }
        guard let form = try? decodeForm(body.readableBytesView) else {
            context.logger.notice("approval page form refused: malformed body", metadata: ["approval": "\(id)"])
            return refusal("Form not valid", "The form could not be read; nothing was decided.", .badRequest)
        }
        let checked = claims(form["t"], id: id)
        guard let claims = checked.claims, let links, let governance, let token = form["t"] else {
            return checked.refused ?? refusal("Link not valid", "", .forbidden)
        }
        guard let csrf = form["csrf"], links.verifyCSRF(csrf, token: token) else {
            return refusal("Form not valid", "This form did not come from the approval page; nothing was decided.", .forbidden)
        }
        guard let decision = form["decision"], decision == "approve" || decision == "deny" else {
            return refusal("No decision", "Choose Approve or Deny.", .badRequest)
        }
        let reason = form["reason"].flatMap { $0.isEmpty ? nil : String($0.prefix(500)) }
        let result: VoteResult
        do {
            result = try await governance.vote(on: id, by: governance.principal(named: claims.approver), approve: decision == "approve",
                                               reason: reason, via: "email-link")
        } catch {
            context.logger.error("approval page vote failed", metadata: ["error": "\(error)"])
            return refusal("Something went wrong", "Your decision was not recorded; try again.", .internalServerError)
        }
        switch result {
        case .recorded(let record, _), .approved(let record), .denied(let record):
            return page(.ok, ["title": "Thank you", "message": result.message, "message_class": "done", "request": view(record)])
        case .alreadyDecided(let record):
            return page(.conflict, ["title": "Already decided", "message": result.message, "message_class": "refused", "request": view(record)])
        case .expired(let record):
            return page(.gone, ["title": "Request expired", "message": result.message, "message_class": "refused", "request": view(record)])
        case .refused(let why):
            return refusal("Not recorded", why, why.contains("already voted") ? .conflict : .forbidden)
        case .notFound:
            return refusal("No such request", result.message, .notFound)
        }
    }
}
