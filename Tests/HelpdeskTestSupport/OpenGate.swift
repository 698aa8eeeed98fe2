import HelpdeskAgents
import HelpdeskCore
import HelpdeskStore

/// A gate that allows every read, for tests about what the orchestrator or the model do with
/// results rather than about policy (those use the real Governance). It still refuses what the
/// real gate refuses regardless of policy: unknown tools, writes in a diagnosis, bad arguments.
public struct OpenGate: ToolGate {
    let agents: [any Agent]
    /// Tools to deny as if a policy said so, to test how callers show a refusal.
    let denied: Set<String>

    public init(agents: [any Agent], denied: Set<String> = []) {
        self.agents = agents
        self.denied = denied
    }

    public func catalog(for target: String?) -> [ToolDescriptor] {
        agents.filter { agent in target.map(agent.applies(to:)) ?? true }.flatMap(\.tools)
    }

    public func offer(for target: String, to principal: Principal, scope: [String: JSONValue]) -> [ToolDescriptor] {
        catalog(for: target).filter { !denied.contains($0.name) }
    }

    public func read(_ call: ToolCall, for principal: Principal, timeout: Duration, via: String) async -> GatedRead {
        let audit = AuditDraft(kind: "tool_call", principal: principal.description, target: call.target,
                               data: .object(["tool": .string(call.tool), "via": .string(via)]))
        func refused(_ why: String, _ action: ActionClass, _ effect: GateVerdict.Effect = .deny) -> GatedRead {
            GatedRead(result: ToolResult(call: call, action: action, output: nil, error: why, duration: .zero),
                      verdict: GateVerdict(effect: effect, explanation: why), audit: audit)
        }
        guard let agent = agents.first(where: { $0.tools.contains { $0.name == call.tool } }),
              let descriptor = agent.tools.first(where: { $0.name == call.tool }) else {
            return refused("no agent offers the tool \(call.tool)", .read)
        }
        guard descriptor.action == .read else {
            return refused("\(call.tool) is a \(descriptor.action.rawValue) tool; diagnoses run read tools only", descriptor.action)
        }
        if denied.contains(call.tool) { return refused("denied by policy test, rule 1", .read) }
        let started = ContinuousClock.now
        do {
            let output = try await withTimeout(timeout) { try await agent.run(call) }
            return GatedRead(result: ToolResult(call: call, action: .read, output: output, error: nil, duration: ContinuousClock.now - started),
                             verdict: GateVerdict(effect: .allow, explanation: "allowed"), audit: audit)
        } catch {
            return GatedRead(result: ToolResult(call: call, action: .read, output: nil, error: "\(error)", duration: ContinuousClock.now - started),
                             verdict: GateVerdict(effect: .allow, explanation: "allowed"), audit: audit)
        }
    }

    public func assess(_ call: ToolCall, for principal: Principal, via: String) -> (GateVerdict, AuditDraft) {
        let verdict = denied.contains(call.tool) ? GateVerdict(effect: .deny, explanation: "denied by policy test, rule 1")
            : GateVerdict(effect: .requireApproval, explanation: "needs 1 approval")
        return (verdict, AuditDraft(kind: "policy_decision", principal: principal.description, target: call.target))
    }

    public func refusal(_ call: ToolCall, for principal: Principal, via: String, reason: String) -> AuditDraft {
        AuditDraft(kind: "tool_call", principal: principal.description, target: call.target,
                   data: .object(["tool": .string(call.tool), "via": .string(via), "outcome": .string("denied"), "error": .string(reason)]))
    }
}

extension Principal {
    /// The person tests diagnose as.
    public static let tester = Principal(id: "tester")
}
