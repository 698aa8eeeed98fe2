import HelpdeskAgents
import HelpdeskCore
import HelpdeskStore
import Logging

extension Governance {
    /// `origin` when its incident is on record and about `call`'s target, its finding redacted and cut;
    /// otherwise `nil`: approvers are not told of an incident that does not back the request (a Run
    /// button's value comes back from a browser form too, and the API takes it from the body).
    func checked(_ origin: ApprovalOrigin?, for call: ToolCall) async -> ApprovalOrigin? {
        guard let origin, origin.incidentID.count <= 200 else { return nil }
        let incident: IncidentRecord?
        do {
            incident = try await store.incidents.incident(id: origin.incidentID)
        } catch {
            logger.notice("cannot read the incident an action request names", metadata: ["incident": "\(origin.incidentID)", "error": "\(error)"])
            return nil
        }
        guard let incident, incident.target == call.target else {
            logger.notice("an action request names an incident that is not on record for its target; not shown to approvers",
                          metadata: ["incident": "\(origin.incidentID)", "target": "\(call.target)"])
            return nil
        }
        let finding = origin.finding.map { text -> String in
            let clean = redactor.redact(text)
            return clean.count <= ApprovalOrigin.findingLimit ? clean : String(clean.prefix(ApprovalOrigin.findingLimit - 1)) + "…"
        }
        return ApprovalOrigin(incidentID: incident.id, finding: finding)
    }
}
