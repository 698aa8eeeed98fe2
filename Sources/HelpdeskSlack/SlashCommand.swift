import Foundation
import HelpdeskCore
import HelpdeskStore

/// The fields of a slash-command request that the bot uses (Slack sends them form-encoded).
public struct SlashCommand: Sendable, Equatable {
    public var teamID: String
    public var channelID: String
    public var userID: String
    public var command: String
    public var text: String
    public var responseURL: String
    public var triggerID: String

    /// Parses an `application/x-www-form-urlencoded` body; `nil` when it is malformed or required fields are missing.
    public init?(formBody: String) {
        self.init(fields: parseForm(formBody))
    }

    /// Reads the decoded form fields; `nil` when required fields are missing.
    public init?(fields: [String: String]) {
        guard let userID = fields["user_id"], let command = fields["command"], let responseURL = fields["response_url"] else { return nil }
        self.teamID = fields["team_id"] ?? ""
        self.channelID = fields["channel_id"] ?? ""
        self.userID = userID
        self.command = command
        self.text = fields["text"] ?? ""
        self.responseURL = responseURL
        self.triggerID = fields["trigger_id"] ?? ""
    }
}

/// What a user can ask of `/helpdesk`.
public enum CommandRequest: Sendable, Equatable {
    case help
    case diagnose(target: String, symptom: String?)
    case status
    case db(tool: String, target: String, arguments: [String: String])
    case k8s(tool: String, namespace: String, arguments: [String: String])
    case incidents
    case incident(id: String)
    case approvals
    case approve(id: String, reason: String?)
    case deny(id: String, reason: String?)
    case explain(eventID: String)
    /// `silence FINGERPRINT[@RECEIVER] DURATION`: silence a stored alert at its receiver's Alertmanager.
    case silence(alert: AlertReference, duration: String)
    /// Not understood: answered with the usage, never run.
    case unknown(String)

    /// Parses the text after the command: `diagnose prod-db queries are stuck`, `approve apr_x looks right`,
    /// `db terminate_backend prod-db pid=4242`.
    public init(text: String) {
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let verb = words.first?.lowercased() else { self = .help; return }
        let rest = Array(words.dropFirst())
        func tail(_ from: Int) -> String? { rest.count > from ? rest[from...].joined(separator: " ") : nil }
        func keyValues(_ from: Int) -> [String: String]? {
            var arguments: [String: String] = [:]
            for word in rest.dropFirst(from) {
                guard let equals = word.firstIndex(of: "="), equals != word.startIndex else { return nil }
                arguments[String(word[..<equals])] = String(word[word.index(after: equals)...])
            }
            return arguments
        }
        switch verb {
        case "help": self = .help
        case "status": self = .status
        case "incidents": self = .incidents
        case "approvals": self = .approvals
        case "diagnose" where !rest.isEmpty: self = .diagnose(target: rest[0], symptom: tail(1))
        case "incident" where rest.count == 1: self = .incident(id: rest[0])
        case "approve" where !rest.isEmpty: self = .approve(id: rest[0], reason: tail(1))
        case "deny" where !rest.isEmpty: self = .deny(id: rest[0], reason: tail(1))
        case "explain" where rest.count == 1: self = .explain(eventID: rest[0])
        case "silence" where rest.count == 2:
            guard let alert = AlertReference(text: rest[0]) else { self = .unknown(text); return }
            self = .silence(alert: alert, duration: rest[1])
        case "db" where rest.count >= 2:
            guard let arguments = keyValues(2) else { self = .unknown(text); return }
            self = .db(tool: rest[0], target: rest[1], arguments: arguments)
        case "k8s" where rest.count >= 2:
            guard let arguments = keyValues(2) else { self = .unknown(text); return }
            self = .k8s(tool: rest[0], namespace: rest[1], arguments: arguments)
        default: self = .unknown(text)
        }
    }
}
