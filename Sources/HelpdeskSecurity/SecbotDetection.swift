import Foundation
import HelpdeskStore

/// What secbot looks for in the audit log; the raw values are the `kind` of its `security_detection` events.
public enum DetectionKind: String, Sendable, Codable, CaseIterable {
    /// A write or destructive tool call with neither an approved request nor the allowing decision it names.
    case unauthorizedDestructive = "unauthorized_destructive"
    /// An event that does not fit the chain (edited, inserted, deleted or re-sealed).
    case hashMismatch = "hash_mismatch"
    /// `secbot.high_volume_per_minute` events or more by one principal within a minute: a runaway model, or abuse.
    case highVolume = "high_volume"
    case potentialSQLInjection = "potential_sql_injection"
    case potentialCommandInjection = "potential_command_injection"
    /// `secbot.denials` denied decisions for one principal within `secbot.denials_window`: someone probing the policies.
    case repeatedDenials = "repeated_denials"
    /// A vote by someone the request's approvers do not include (the gate refuses those: the store was written around it).
    case outsiderVote = "outsider_vote"
    /// An approving vote sooner after the request opened than a person could read it.
    case fastApproval = "fast_approval"
    /// A policy reload whose decisions on the probe set got more permissive.
    case policyWidened = "policy_widened"

    /// How the incident is filed: a broken chain or an unapproved write is critical, the rest a warning.
    public var severity: String {
        switch self {
        case .hashMismatch, .unauthorizedDestructive: "critical"
        default: "warning"
        }
    }
}

/// One finding: what it is, whom it is about, a one-line summary and the offending events.
///
/// `summary` is one line built from ids, names and counts, never from event data as written (no
/// arguments, no errors), so it holds no secret and no text an attacker chose.
public struct Detection: Sendable, Equatable {
    public var kind: DetectionKind
    /// The principal it is about, or `chain`, or `policies`.
    public var subject: String
    public var summary: String
    public var events: [AuditEvent]

    public init(kind: DetectionKind, subject: String, summary: String, events: [AuditEvent]) {
        self.kind = kind
        self.subject = subject
        self.summary = summary
        self.events = events
    }

    /// The target of its `security_detection` event, and what its cooldown is keyed on: `kind:subject`.
    public var target: String { "\(kind.rawValue):\(subject)" }

    /// `high_volume orders-bot: 130 events within a minute (seq 41…170)`: how it is logged and printed.
    public var line: String { "\(kind.rawValue) \(subject): \(summary)" }

    /// The subject of detections about the chain itself.
    public static let chainSubject = "chain"
    /// The subject of detections about the policies in force.
    public static let policiesSubject = "policies"
}
