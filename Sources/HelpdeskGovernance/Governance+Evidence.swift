import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskStore
import Logging

extension Governance {
    /// Whether `finding` is the whole finding a runbook summary names ("TARGET: COUNTS — FINDING", maybe
    /// followed by " (N tools failed…)"), not a fragment of it ("PID 1015" of "PID 10151 …").
    static func isWholeFinding(_ finding: String, of summary: String) -> Bool {
        guard !finding.isEmpty, let range = summary.range(of: " — " + finding) else { return false }
        let rest = summary[range.upperBound...]
        return rest.isEmpty || rest.hasPrefix(" (")
    }

    /// `text` with the process's secrets replaced, for what a person typed that others will read.
    public func redacted(_ text: String) -> String {
        redactor.redact(text)
    }

    /// A message's strings with the process's secrets replaced.
    public func redacted(_ message: JSONValue) -> JSONValue {
        switch message {
        case .string(let text): .string(redactor.redact(text))
        case .array(let items): .array(items.map(redacted))
        case .object(let fields): .object(fields.mapValues(redacted))
        default: message
        }
    }

    /// `origin` when its incident is on record and about `call`'s target, its finding taken from the
    /// record (redacted and cut);
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
        // What approvers read comes from the record, never from the form: the finding the button names when
        // the incident's summary holds it, else that summary (a requester could write any "finding").
        let named = origin.finding.flatMap { Self.isWholeFinding($0, of: incident.summary) ? $0 : nil }
        let clean = redactor.redact(named ?? incident.summary)
        let finding = clean.count <= ApprovalOrigin.findingLimit ? clean : String(clean.prefix(ApprovalOrigin.findingLimit - 1)) + "…"
        return ApprovalOrigin(incidentID: incident.id, finding: finding)
    }
}
