import Foundation
import HelpdeskStore
import Hummingbird
import Logging

/// `GET /web/audit?principal=&kind=&target=`: the newest matching events and whether the chain verifies.
extension WebRoutes {
    static let auditRows = 200

    func audit(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Response {
        let query = request.uri.queryParameters
        var values: [String: String] = [:]
        for name in ["principal", "kind", "target"] {
            let value = (query.get(name) ?? "").trimmingCharacters(in: .whitespaces)
            guard value.count <= 200 else {
                return message(.badRequest, title: "Filter too long", "A filter is at most 200 characters.", visitor: visitor)
            }
            if !value.isEmpty { values[name] = value }
        }
        let filter = AuditFilter(principal: values["principal"], kind: values["kind"], target: values["target"])
        let events: [AuditEvent]
        do {
            events = try await store.audit.latest(filter, limit: Self.auditRows)
        } catch {
            return storeUnavailable(error, context, visitor: visitor)
        }
        var page = head(visitor, title: "Audit log", tab: .audit)
        page["filter"] = values
        page["events"] = events.map { event -> [String: Any] in
            ["seq": String(event.seq), "id": event.id, "time": Self.time(event.at), "kind": event.kind, "principal": event.principal ?? "-",
             "target": Self.cut(event.target ?? "-", 200), "data": Self.cut(event.data, 300)]
        }
        page["empty"] = events.isEmpty
        let chain = await chainText(context)
        page["chain"] = chain.text
        page["chain_ok"] = chain.ok
        return render("audit", page)
    }

    /// "verified (N events)", or where and why the chain broke, as `helpdesk audit verify` reports it.
    func chainText(_ context: AppRequestContext) async -> (text: String, ok: Bool) {
        let result: AuditVerification
        do {
            result = try await web.chain.verify(store)
        } catch {
            context.logger.error("audit chain not verified", metadata: ["error": "\(error)"])
            return ("not verified: the audit log could not be read", false)
        }
        guard result.ok else {
            let why = result.problem ?? "the audit log does not verify"
            return (result.brokenAt.map { "BROKEN at event \($0): \(why)" } ?? "BROKEN: \(why)", false)
        }
        return ("verified (\(result.checked) events)", true)
    }
}
