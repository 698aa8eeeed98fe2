import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore
import Logging
import Tracing

/// Governance is the ``ToolGate``: diagnoses and models reach agents only through these methods.
extension Governance: ToolGate {
    public func catalog(for target: String?) -> [ToolDescriptor] {
        agents.filter { agent in target.map(agent.applies(to:)) ?? true }.flatMap(\.tools)
    }

    public func offer(for target: String, to principal: Principal, scope: [String: JSONValue]) -> [ToolDescriptor] {
        catalog(for: target).filter { descriptor in
            let arguments = scope.filter { key, _ in descriptor.parameters.contains { $0.name == key } }
            let probe = ToolCall(tool: descriptor.name, target: target, arguments: arguments)
            let impact: ToolImpact? = descriptor.action == .read ? ToolImpact.none : nil
            let purpose = descriptor.action == .read ? ActionRequest.diagnosisPurpose : nil
            return (try? decide(probe, by: principal, impact: impact, purpose: purpose).0.effect) != .deny
        }
    }

    public func read(_ call: ToolCall, for principal: Principal, timeout: Duration, via: String) async -> GatedRead {
        let started = ContinuousClock.now
        func refused(_ verdict: GateVerdict, action: ActionClass, decision: Decision?) -> GatedRead {
            let result = ToolResult(call: call, action: action, output: nil, error: verdict.explanation, duration: .zero)
            return GatedRead(result: result, verdict: verdict,
                             audit: toolCallEvent(call, action: action, principal: principal, via: via, decision: decision,
                                                  outcome: verdict.effect == .deny ? "denied" : "not_run", error: verdict.explanation,
                                                  milliseconds: 0))
        }
        guard let (agent, descriptor) = tool(named: call.tool) else {
            return refused(GateVerdict(effect: .deny, explanation: "no agent offers the tool \(call.tool)"), action: .read, decision: nil)
        }
        guard descriptor.action == .read else {
            return refused(GateVerdict(effect: .deny, explanation: "\(call.tool) is a \(descriptor.action.rawValue) tool; diagnoses run read tools only"),
                           action: descriptor.action, decision: nil)
        }
        if let problem = descriptor.validate(call.arguments) {
            return refused(GateVerdict(effect: .deny, explanation: problem), action: .read, decision: nil)
        }
        let decision: Decision
        do {
            decision = try decide(call, by: principal, impact: .none, purpose: ActionRequest.diagnosisPurpose, at: now()).0
        } catch {
            return refused(GateVerdict(effect: .deny, explanation: "\(error)"), action: .read, decision: nil)
        }
        let verdict = Self.verdict(decision)
        Self.countDecision(decision.effect)
        switch decision.effect {
        case .deny:
            return refused(verdict, action: .read, decision: decision)
        case .requireApproval:
            let why = GateVerdict(effect: .requireApproval, explanation: "\(verdict.explanation); diagnoses do not open approval requests, so it did not run",
                                  policy: verdict.policy, rule: verdict.rule)
            return refused(why, action: .read, decision: decision)
        case .allow:
            let result: ToolResult = await withSpan("tool \(call.tool)", ofKind: .client) { span in
                span.attributes["helpdesk.tool"] = call.tool
                span.attributes["helpdesk.tool.action"] = ActionClass.read.rawValue
                span.setRedacted("helpdesk.target", call.target, redactor: redactor)
                span.setRedacted("helpdesk.principal", principal.description, redactor: redactor)
                do {
                    let output = try await withTimeout(timeout) { try await agent.run(call) }
                    span.attributes["helpdesk.outcome"] = "ok"
                    return ToolResult(call: call, action: .read, output: redactor.redact(output), error: nil, duration: ContinuousClock.now - started)
                } catch {
                    span.attributes["helpdesk.outcome"] = "error"
                    span.failed()
                    return ToolResult(call: call, action: .read, output: nil, error: redactor.redact("\(error)"), duration: ContinuousClock.now - started)
                }
            }
            Self.countToolCall(call.tool, failed: result.error != nil)
            let audit = toolCallEvent(call, action: .read, principal: principal, via: via, decision: decision,
                                      outcome: result.error == nil ? "ok" : "error", error: result.error,
                                      milliseconds: Int(result.duration.nanoseconds / 1_000_000))
            return GatedRead(result: result, verdict: verdict, audit: audit)
        }
    }

    public func assess(_ call: ToolCall, for principal: Principal, via: String) -> (GateVerdict, AuditDraft) {
        guard let (_, descriptor) = tool(named: call.tool) else {
            let verdict = GateVerdict(effect: .deny, explanation: "no agent offers the tool \(call.tool)")
            return (verdict, toolCallEvent(call, action: .write, principal: principal, via: via, decision: nil, outcome: "denied",
                                           error: verdict.explanation, milliseconds: 0, kind: "policy_decision"))
        }
        let isRead = descriptor.action == .read
        let decision = (try? decide(call, by: principal, impact: isRead ? ToolImpact.none : nil,
                                    purpose: isRead ? ActionRequest.diagnosisPurpose : nil, at: now()).0)
        let verdict = decision.map(Self.verdict) ?? GateVerdict(effect: .deny, explanation: "no decision could be made")
        return (verdict, toolCallEvent(call, action: descriptor.action, principal: principal, via: via, decision: decision,
                                       outcome: verdict.effect.rawValue, error: nil, milliseconds: 0, kind: "policy_decision"))
    }

    public func refusal(_ call: ToolCall, for principal: Principal, via: String, reason: String) -> AuditDraft {
        toolCallEvent(call, action: tool(named: call.tool)?.1.action ?? .read, principal: principal, via: via, decision: nil,
                      outcome: "denied", error: reason, milliseconds: 0)
    }

    /// A decision in the words answers show: "denied by policy production, rule 2 (…)".
    static func verdict(_ decision: Decision) -> GateVerdict {
        let effect: GateVerdict.Effect = switch decision.effect {
        case .allow: .allow
        case .deny: .deny
        case .requireApproval: .requireApproval
        }
        let message = decision.message.map { " — \($0)" } ?? ""
        return GateVerdict(effect: effect, explanation: decision.reason + message, policy: decision.policy, rule: decision.rule.map { $0 + 1 })
    }

    /// One audit event for one call: who, what (arguments redacted), how policy decided, what happened.
    func toolCallEvent(_ call: ToolCall, action: ActionClass, principal: Principal, via: String, decision: Decision?,
                       outcome: String, error: String?, milliseconds: Int, kind: String = "tool_call") -> AuditDraft {
        var data: [String: JSONValue] = [
            "call": callJSON(call, action: action), "via": .string(via), "outcome": .string(outcome),
            "milliseconds": .number(Double(milliseconds)),
        ]
        if let decision { data["decision"] = encode(decision) }
        if let error { data["error"] = .string(redactor.redact(error)) }
        return AuditDraft(kind: kind, principal: principal.description, target: call.target, data: .object(data))
    }
}
