import HelpdeskCore
import HelpdeskStore

/// Policy's verdict on one call, in words an answer can show ("denied by policy production, rule 2 …").
public struct GateVerdict: Sendable, Equatable {
    public enum Effect: String, Sendable, Codable {
        case allow, deny
        case requireApproval = "require_approval"
    }

    public var effect: Effect
    public var explanation: String
    public var policy: String?
    /// 1-based, as people count rules in a file.
    public var rule: Int?

    public init(effect: Effect, explanation: String, policy: String? = nil, rule: Int? = nil) {
        self.effect = effect
        self.explanation = explanation
        self.policy = policy
        self.rule = rule
    }
}

/// A read decided by the gate: what it produced (or why it did not run) and the audit event
/// that records it, for the caller to write together with what the call was for.
public struct GatedRead: Sendable {
    public var result: ToolResult
    public var verdict: GateVerdict
    public var audit: AuditDraft

    public init(result: ToolResult, verdict: GateVerdict, audit: AuditDraft) {
        self.result = result
        self.verdict = verdict
        self.audit = audit
    }
}

/// The only way to an agent. Every tool call — runbook reads, a model's calls, the API, Slack,
/// email, the command line, the alert bot — is decided by policy as the principal it is made for,
/// and audited. Diagnoses use this narrow face of it; actions go through Governance's `request`.
public protocol ToolGate: Sendable {
    /// The tools of the agents that have something to look at on `target` (every tool for `nil`),
    /// as offered to nobody in particular.
    func catalog(for target: String?) -> [ToolDescriptor]
    /// The tools `principal` may be offered on `target`: the catalog less what policy denies them
    /// within `scope` (the arguments the investigation is about, such as its namespace). Each call
    /// is decided again with its own arguments.
    func offer(for target: String, to principal: Principal, scope: [String: JSONValue]) -> [ToolDescriptor]
    /// Decides `call` as `principal` and runs it when policy allows. Reads only: a write, or a read
    /// that would need an approval, is not run and says why. A denied call never reaches the target.
    func read(_ call: ToolCall, for principal: Principal, timeout: Duration, via: String) async -> GatedRead
    /// Policy's verdict on a call without running it (what a diagnosis recommends, what a model proposes).
    func assess(_ call: ToolCall, for principal: Principal, via: String) -> (GateVerdict, AuditDraft)
    /// The audit event for a call refused before policy could decide it (a model asking for a
    /// tool it was not offered, or with arguments that do not fit): refusals are audited too.
    func refusal(_ call: ToolCall, for principal: Principal, via: String, reason: String) -> AuditDraft
}
