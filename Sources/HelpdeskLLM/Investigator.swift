import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskStore

/// What a model-led investigation produced.
public struct LLMInvestigation: Sendable {
    /// The model's final answer; its first line is a one-sentence summary.
    public var analysis: String?
    /// Write tools the model asked for: recorded, never run.
    public var proposedActions: [ToolCall]
    /// Read tools the model ran (or was refused), for the bundle.
    public var toolResults: [ToolResult]
    /// The gate's audit events for every call the model made, to be written with the diagnosis.
    public var audit: [AuditDraft]
    public var steps: Int
    public var usage: LLMUsage
    /// Why it stopped early (step cap, token budget, a failed call), if it did.
    public var stoppedBecause: String?
}

/// Lets a model investigate one target through the gate: it is offered what policy allows the
/// principal the investigation runs for, and every call it makes is decided again as that
/// principal with the model's actual arguments. Allowed reads run at once (each under the tool
/// timeout); write and destructive tools are only recorded as proposals, unless policy denies
/// them outright. Bounded by a step cap and a token budget; any failure ends it with what it has.
public struct Investigator: Sendable {
    public struct Limits: Sendable {
        public var maxSteps: Int
        public var tokenBudget: Int
        public var toolTimeout: Duration
        /// Characters of one tool result shown to the model.
        public var maxResultCharacters: Int

        public init(maxSteps: Int = 8, tokenBudget: Int = 60_000, toolTimeout: Duration = .seconds(10), maxResultCharacters: Int = 8000) {
            self.maxSteps = maxSteps
            self.tokenBudget = tokenBudget
            self.toolTimeout = toolTimeout
            self.maxResultCharacters = maxResultCharacters
        }
    }

    let client: any LLMClient
    let limits: Limits

    public init(client: any LLMClient, limits: Limits) {
        self.client = client
        self.limits = limits
    }

    public var providerName: String { client.providerName }

    /// `briefing` tells the model what is known already (trigger, runbook findings, tool outputs);
    /// `scope` is what the investigation is about (its namespace): it narrows the tool offer, is
    /// filled into every call the model makes of a tool that takes it, and a call naming another
    /// value is refused (a diagnosis of one namespace does not look at, or act on, another).
    public func investigate(target: String, briefing: String, gate: any ToolGate, principal: Principal, via: String,
                            scope: [String: JSONValue] = [:]) async -> LLMInvestigation {
        let tools = gate.offer(for: target, to: principal, scope: scope)
        let within = scope.keys.sorted().compactMap { key in scope[key].map { "\(key) \(JSONValue.stringLiteral($0.description))" } }
        let system = """
            You are helpdesk, an on-call assistant for SRE and database teams, diagnosing "\(target)"\
            \(within.isEmpty ? "" : " in " + within.joined(separator: ", ") + " (filled into every tool that takes it)"). \
            Use the tools to gather evidence before concluding. Read tools run immediately. Write and destructive \
            tools are never run by you: calling one only records it as a recommended action for a human to approve. \
            Finish with plain text: a one-sentence summary on the first line, then the evidence and the recommended actions.
            """
        var messages = [LLMMessage(role: .user, content: [.text(briefing)])]
        var result = LLMInvestigation(analysis: nil, proposedActions: [], toolResults: [], audit: [], steps: 0, usage: LLMUsage(), stoppedBecause: nil)
        let specs = tools.map(LLMToolSpec.init)
        while result.steps < limits.maxSteps {
            result.steps += 1
            let turn: LLMTurn
            do {
                turn = try await client.complete(system: system, messages: messages, tools: specs)
            } catch {
                result.stoppedBecause = "the \(client.providerName) model could not be asked: \(error)"
                return result
            }
            result.usage.inputTokens += turn.usage.inputTokens
            result.usage.outputTokens += turn.usage.outputTokens
            messages.append(LLMMessage(role: .assistant, content: (turn.text.isEmpty ? [] : [.text(turn.text)]) + turn.toolCalls.map(LLMContent.toolCall)))
            if turn.toolCalls.isEmpty {
                result.analysis = turn.text.trimmingCharacters(in: .whitespacesAndNewlines)
                return result
            }
            if result.usage.total >= limits.tokenBudget {
                result.stoppedBecause = "token budget of \(limits.tokenBudget) reached after \(result.steps) step(s)"
                result.analysis = turn.text.isEmpty ? nil : turn.text
                return result
            }
            var replies: [LLMContent] = []
            for call in turn.toolCalls {
                replies.append(await answer(call, target: target, scope: scope, gate: gate, principal: principal, via: via,
                                            into: &result))
            }
            messages.append(LLMMessage(role: .user, content: replies))
        }
        result.stoppedBecause = "step cap of \(limits.maxSteps) reached"
        return result
    }

    /// A call for a tool that exists but was not offered still goes to the gate: it is refused
    /// there, and the refusal is audited like any other. So are calls for a tool outside the
    /// catalog, with arguments that do not fit or outside the scope: refused before policy, and
    /// audited by the gate. Policy decides, and a proposal records, the call with the scope filled in.
    private func answer(_ call: LLMToolCall, target: String, scope: [String: JSONValue], gate: any ToolGate, principal: Principal,
                        via: String, into result: inout LLMInvestigation) async -> LLMContent {
        guard let descriptor = gate.catalog(for: target).first(where: { $0.name == call.name }) else {
            let why = "there is no tool \(call.name) available to you"
            let toolCall = ToolCall(tool: call.name, target: target, arguments: call.input)
            result.audit.append(gate.refusal(toolCall, for: principal, via: via, reason: why))
            return .toolResult(callID: call.id, content: why, isError: true)
        }
        let scoped = Self.scoped(call.input, by: scope, for: descriptor)
        let toolCall = ToolCall(tool: call.name, target: target, arguments: scoped.arguments)
        if let problem = scoped.conflict ?? descriptor.validate(toolCall.arguments) {
            result.audit.append(gate.refusal(toolCall, for: principal, via: via, reason: problem))
            return .toolResult(callID: call.id, content: problem, isError: true)
        }
        guard descriptor.action == .read else {
            let (verdict, audit) = gate.assess(toolCall, for: principal, via: via)
            result.audit.append(audit)
            if verdict.effect == .deny {
                return .toolResult(callID: call.id, content: "refused: \(verdict.explanation); do not recommend it", isError: true)
            }
            if !result.proposedActions.contains(toolCall) { result.proposedActions.append(toolCall) }
            return .toolResult(callID: call.id, content: "recorded as a recommended action; it runs only if a human approves it", isError: false)
        }
        let read = await gate.read(toolCall, for: principal, timeout: limits.toolTimeout, via: via)
        result.toolResults.append(read.result)
        result.audit.append(read.audit)
        if let output = read.result.output {
            return .toolResult(callID: call.id, content: ModelText.json(output, limit: limits.maxResultCharacters), isError: false)
        }
        let why = read.verdict.effect == .allow ? "the tool failed: " : "refused: "
        return .toolResult(callID: call.id, content: why + (read.result.error ?? "no output"), isError: true)
    }

    /// The model's arguments with each scope value the tool takes filled in where the model left it
    /// out (or empty), as the orchestrator fills a runbook step's; `conflict` says why the call is
    /// refused when the model named a different value (compared as text: `"5"` and `5` agree).
    static func scoped(_ input: [String: JSONValue], by scope: [String: JSONValue],
                       for descriptor: ToolDescriptor) -> (arguments: [String: JSONValue], conflict: String?) {
        var arguments = input
        for key in scope.keys.sorted() {
            guard let value = scope[key], descriptor.parameters.contains(where: { $0.name == key }) else { continue }
            switch input[key] {
            case nil, .null?, .string("")?:
                arguments[key] = value
            case let given? where given.description == value.description:
                continue
            case let given?:
                return (arguments, "refused: this diagnosis is about \(key) \(value.description), so \(descriptor.name) may not "
                            + "use \(key) \(given.jsonText); call it without \(key) (it is filled in) or with \(key) \(value.description)")
            }
        }
        return (arguments, nil)
    }
}
