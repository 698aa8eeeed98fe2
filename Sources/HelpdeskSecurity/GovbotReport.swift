import Foundation

/// govbot's compliance report over a window `[from, to)`: what policy decided, how approvals went,
/// which writes ran and who approved them, which rules never matched or matched everything, who
/// never acted and who acted without a mapping, whether the audit chain holds, and secbot's detections.
///
/// Its JSON (``GovbotReport/encoder``) is a stable interface: snake_case keys, sorted, ISO 8601 times;
/// `version` changes when a key changes meaning or goes away (new keys may be added).
///
/// ```swift
/// let report = try await GovbotReporter(store: store, policies: policies, directory: directory)
///     .report(from: start, to: end)
/// exit(report.exitCode)  // 0 clean, 1 findings
/// ```
public struct GovbotReport: Sendable, Equatable, Codable {
    /// The JSON's version.
    public static let currentVersion = 1

    public var version = GovbotReport.currentVersion
    public var generatedAt: Date
    public var window: Window
    public var decisions: Decisions
    public var approvals: Approvals
    /// Write and destructive tool calls of the window, oldest first.
    public var actions: [Action]
    public var rules: Rules
    public var people: People
    public var chain: Chain
    /// secbot's `security_detection` events of the window, oldest first.
    public var detections: [Detection]
    /// What needs attention; any makes the exit status 1.
    public var findings: [Finding]
    /// Worth knowing, not alarming (dead rules, people who never acted): they do not change the exit status.
    public var notes: [Finding]

    enum CodingKeys: String, CodingKey {
        case version, generatedAt = "generated_at", window, decisions, approvals, actions, rules, people, chain, detections, findings, notes
    }

    /// `clean` without findings, else `findings` (the label of `helpdesk_govbot_reports_total`).
    public var outcome: String { findings.isEmpty ? "clean" : "findings" }

    /// The command's exit status: 0 clean, 1 findings (2, an error, never comes from a report).
    public var exitCode: Int32 { findings.isEmpty ? 0 : 1 }

    /// Pretty, sorted keys, ISO 8601 times: the `--json` file and the scheduled `json_dir` files.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    public struct Window: Sendable, Equatable, Codable {
        public var from: Date
        public var to: Date
        /// Audit events read in the window.
        public var events: Int
    }

    /// Policy decisions: `policy_decision` events, and tool calls decided without one (diagnosis reads).
    public struct Decisions: Sendable, Equatable, Codable {
        public var total: Int
        /// `allow`, `deny`, `require_approval` → count.
        public var byEffect: [String: Int]
        /// One entry per policy and rule that decided, most decisions first; `policy` `nil` is the
        /// default deny (no policy matched).
        public var byRule: [RuleCount]

        enum CodingKeys: String, CodingKey { case total, byEffect = "by_effect", byRule = "by_rule" }
    }

    public struct RuleCount: Sendable, Equatable, Codable {
        public var policy: String?
        /// 1-based, as decisions' reasons number rules ("rule 2").
        public var rule: Int?
        public var count: Int
        public var byEffect: [String: Int]

        enum CodingKeys: String, CodingKey { case policy, rule, count, byEffect = "by_effect" }
    }

    /// Approval requests: created, and decided or expired, in the window; `pending` are those created
    /// in the window and undecided at its end. Times to decide are from creation to approval or denial.
    public struct Approvals: Sendable, Equatable, Codable {
        public var created: Int
        public var approved: Int
        public var denied: Int
        public var expired: Int
        public var pending: Int
        public var medianSecondsToDecide: Double?
        /// Nearest rank: the smallest time at least 95% of decisions took no longer than.
        public var p95SecondsToDecide: Double?
        /// Votes cast in the window, per principal, most votes first.
        public var byApprover: [ApproverVotes]

        enum CodingKeys: String, CodingKey {
            case created, approved, denied, expired, pending, medianSecondsToDecide = "median_seconds_to_decide"
            case p95SecondsToDecide = "p95_seconds_to_decide", byApprover = "by_approver"
        }
    }

    public struct ApproverVotes: Sendable, Equatable, Codable {
        public var principal: String
        public var approve: Int
        public var deny: Int
    }

    /// A write or destructive tool call: what ran (or was refused), as whom, and who approved it.
    public struct Action: Sendable, Equatable, Codable {
        public var at: Date
        public var seq: Int64
        public var tool: String
        public var target: String
        /// `write` or `destructive`.
        public var action: String
        public var principal: String?
        /// `ok`, `error`, `denied`, `not_run`, …
        public var outcome: String
        public var approval: String?
        /// Who voted to approve `approval`.
        public var approvedBy: [String]

        enum CodingKeys: String, CodingKey { case at, seq, tool, target, action, principal, outcome, approval, approvedBy = "approved_by" }

        /// It ran (successfully or not), rather than being refused.
        public var ran: Bool { outcome == "ok" || outcome == "error" }
    }

    public struct Rules: Sendable, Equatable, Codable {
        /// Rules of enabled policies that decided nothing in the window.
        public var dead: [RuleReference]
        /// A rule that decided every decision of the window (only with at least ``GovbotReporter/everythingThreshold`` decisions).
        public var matchedEverything: [RuleReference]

        enum CodingKeys: String, CodingKey { case dead, matchedEverything = "matched_everything" }
    }

    public struct RuleReference: Sendable, Equatable, Codable {
        public var policy: String
        /// 1-based.
        public var rule: Int
        /// What the rule covers and decides, such as `write/destructive → deny`.
        public var summary: String
    }

    public struct People: Sendable, Equatable, Codable {
        /// Names under `users:` with no event in the window.
        public var idle: [String]
        /// Principals with events in the window that name no user, service account or API token.
        public var unmapped: [Actor]
    }

    public struct Actor: Sendable, Equatable, Codable {
        public var principal: String
        public var events: Int
        /// The kinds of their events, sorted.
        public var kinds: [String]
    }

    /// `store.audit.verify()` when the report was made: the whole chain, not only the window.
    public struct Chain: Sendable, Equatable, Codable {
        public var ok: Bool
        public var checked: Int
        public var problem: String?
        public var brokenAt: Int64?

        enum CodingKeys: String, CodingKey { case ok, checked, problem, brokenAt = "broken_at_seq" }
    }

    public struct Detection: Sendable, Equatable, Codable {
        public var at: Date
        public var kind: String
        public var subject: String
        public var summary: String
        public var incident: String?
        public var dryRun: Bool

        enum CodingKeys: String, CodingKey { case at, kind, subject, summary, incident, dryRun = "dry_run" }
    }

    /// One thing to look at, typed by `kind`, with what it is about and a sentence.
    public struct Finding: Sendable, Equatable, Codable {
        public enum Kind: String, Sendable, Codable, CaseIterable {
            // Findings.
            case chainBroken = "chain_broken"
            case detection
            case unapprovedDestructive = "unapproved_destructive"
            case unmappedActor = "unmapped_actor"
            case ruleMatchesEverything = "rule_matches_everything"
            case approvalsExpired = "approvals_expired"
            // Notes.
            case deadRule = "dead_rule"
            case idleUser = "idle_user"
        }

        public var kind: Kind
        public var subject: String
        public var message: String

        public init(kind: Kind, subject: String, message: String) {
            self.kind = kind
            self.subject = subject
            self.message = message
        }
    }
}
