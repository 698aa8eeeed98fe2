import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskStore

/// Where a requested action came from: the incident whose diagnosis recommended it, and the finding
/// behind the recommendation. Given by whoever asks (a Run button's value, the API body); the gate
/// keeps it only when that incident exists and is about the call's target.
public struct ApprovalOrigin: Sendable, Codable, Equatable {
    /// Characters of the finding kept (a runbook's summary is one line; a model's could be long).
    public static let findingLimit = 300

    public var incidentID: String
    public var finding: String?

    enum CodingKeys: String, CodingKey {
        case incidentID = "incident", finding
    }

    public init(incidentID: String, finding: String? = nil) {
        self.incidentID = incidentID
        self.finding = finding.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// What an approver reads before deciding, kept with the request (its `request` JSON, key
/// `evidence`) when it opens: where the action came from, what it will do and to what, and for a
/// session tool the session as it was then. Facts at request time, not checked again at run time:
/// the pin and the policy check at execution do that.
public struct ApprovalEvidence: Sendable, Codable, Equatable {
    public var tool: String
    public var incidentID: String?
    /// The finding that recommended the action, redacted and at most ``ApprovalOrigin/findingLimit`` characters.
    public var finding: String?
    /// What the action will do, in words: "ends PostgreSQL session 19957 on prod-db: …".
    public var effect: String
    /// For `terminate_backend` and `cancel_query`: the session, redacted; `nil` when it could not be read.
    public var session: SessionEvidence?

    enum CodingKeys: String, CodingKey {
        case tool, incidentID = "incident_id", finding, effect, session
    }

    public init(tool: String, incidentID: String? = nil, finding: String? = nil, effect: String, session: SessionEvidence? = nil) {
        self.tool = tool
        self.incidentID = incidentID
        self.finding = finding
        self.effect = effect
        self.session = session
    }

    /// The evidence of `request`: its effect worded from its arguments, `origin` as given (checked by
    /// the caller), `session` as measured (redacted by the caller).
    public init(request: ApprovalRequest, origin: ApprovalOrigin?, session: SessionEvidence?) {
        self.init(tool: request.tool, incidentID: origin?.incidentID, finding: origin?.finding, effect: Self.effect(of: request),
                  session: Self.sessionTools.contains(request.tool) ? session : nil)
    }

    static let sessionTools: Set<String> = ["terminate_backend", "cancel_query"]

    /// The evidence as plain lines, in the order an approver needs them: what it does, why, then the
    /// session. Each is one line (a statement's newlines, control characters in an application name,
    /// become spaces); escaping is the renderer's (Slack, email, HTML).
    public var lines: [String] {
        var lines = ["Does: \(effect)"]
        if let incidentID {
            lines.append(finding.map { "Found in incident \(incidentID): \($0)" } ?? "From incident \(incidentID)")
        }
        if Self.sessionTools.contains(tool) {
            if let session {
                lines += Self.lines(of: session)
            } else {
                lines.append("The session could not be read when this was requested: it may have ended, or the bot may not see it.")
            }
        }
        return lines.map(Self.oneLine)
    }

    static func oneLine(_ text: String) -> String {
        text.split { character in
            character.isWhitespace || character.unicodeScalars.contains { $0.properties.generalCategory == .control }
        }.joined(separator: " ")
    }

    static func lines(of session: SessionEvidence) -> [String] {
        var who = ["user \(session.user ?? "?")"]
        if let application = session.application { who.append("application \"\(application)\"") }
        if let client = session.client { who.append("client \(client)") }
        var lines = ["Session \(session.pid): " + who.joined(separator: ", ") + (session.state.map { " — \($0)" } ?? "")]
        // An idle session always "waits" for its client (Client: ClientRead): only a busy session's wait says something.
        if let type = session.waitEventType, session.state?.hasPrefix("idle") != true {
            lines.append("Waiting on \(type)\(session.waitEvent.map { ": \($0)" } ?? "")")
        }
        if let age = session.transactionAgeSeconds {
            let writes = switch session.transactionHasWritten {
            case true?: ", with writes (rolled back if the session ends)"
            case false?: ", nothing written yet"
            case nil: ""
            }
            lines.append("Transaction open \(PolicyEngine.ageText(age))\(writes)")
        } else if session.state != nil {
            lines.append("Not in a transaction")
        }
        if let query = session.query {
            let started = session.queryAgeSeconds.map { " (started \(PolicyEngine.ageText($0)) ago)" } ?? ""
            lines.append("Statement\(started): \(query)")
        }
        if session.blockedCount == 0 {
            lines.append("Blocks no other session")
        } else {
            let pids = session.blockedPIDs.prefix(SessionEvidence.blockedListLimit)
            let more = session.blockedCount > pids.count ? ", …" : ""
            let shown = pids.isEmpty ? "" : ": \(pids.count == 1 ? "PID" : "PIDs") \(pids.map(String.init).joined(separator: ", "))\(more)"
            let noun = session.blockedCount == 1 ? "session" : "sessions"
            let directly = session.blockedDirectly == session.blockedCount
                ? "" : " (\(session.blockedDirectly) directly, the rest queued behind them)"
            lines.append("Blocks \(session.blockedCount) \(noun)\(directly)\(shown)")
        }
        return lines
    }

    /// What `request` will do, in words, for every write and destructive tool the built-in agents
    /// have; a tool added later reads as "runs TOOL on TARGET".
    public static func effect(of request: ApprovalRequest) -> String {
        let arguments = request.arguments
        func text(_ name: String) -> String? {
            guard let value = arguments[name], value != .null else { return nil }
            let shown = value.description
            return shown.count <= 300 ? shown : String(shown.prefix(299)) + "…"
        }
        let target = request.target
        let pid = text("pid") ?? "?"
        let namespace = request.resource?.namespace ?? text("namespace")
        let place = "\(namespace.map { "namespace \($0) on " } ?? "")\(target)"
        let pods = request.impact?.pods.map { $0 == 1 ? "1 pod" : "\($0) pods" }
        switch request.tool {
        case "terminate_backend":
            return "ends PostgreSQL session \(pid) on \(target): its transaction is rolled back, its locks are released "
                + "and its client is disconnected"
        case "cancel_query":
            return "cancels the statement PostgreSQL session \(pid) on \(target) is running; the session stays connected "
                + "(a transaction it is in fails and must be rolled back by its client)"
        case "rollout_restart":
            return "restarts the pods of deployment \(text("name") ?? "?") in \(place), one by one\(pods.map { " (\($0))" } ?? "")"
        case "rollout_undo":
            let revision = text("to_revision").map { "revision \($0)" } ?? "its previous revision"
            return "rolls deployment \(text("name") ?? "?") in \(place) back to \(revision), replacing its pods one by one"
                + (pods.map { " (\($0))" } ?? "")
        case "scale":
            return "sets deployment \(text("name") ?? "?") in \(place) to \(text("replicas") ?? "?") replicas"
                + (pods.map { " (\($0) started or stopped)" } ?? "")
        case "create_silence":
            return "silences, for \(text("duration") ?? "?") at the Alertmanager of \(target), the alerts whose labels equal "
                + "\(text("matchers") ?? "?"): they keep firing but notify no one"
        default:
            return "runs \(request.tool), a \(request.action.rawValue) tool, on \(target)"
        }
    }
}

extension ApprovalEvidence {
    /// `request` (an encoded ``ApprovalRequest``) with this evidence under `evidence`: beside the call
    /// rather than inside ``ApprovalRequest``, so evidence that does not decode never hides the call.
    public func stored(in request: JSONValue) -> JSONValue {
        guard case .object(var fields) = request,
              let encoded = try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(self)) else { return request }
        fields["evidence"] = encoded
        return .object(fields)
    }
}

extension ApprovalRecord {
    /// What approvers were shown when the request opened; `nil` for a request opened before evidence was kept.
    public var evidence: ApprovalEvidence? {
        guard let stored = request["evidence"], stored != .null else { return nil }
        return try? JSONDecoder().decode(ApprovalEvidence.self, from: Data(stored.jsonText.utf8))
    }
}
