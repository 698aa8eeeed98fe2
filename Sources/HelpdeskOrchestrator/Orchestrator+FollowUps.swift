import HelpdeskAgents
import HelpdeskCore

extension Orchestrator {
    /// Follow-up reads one diagnosis runs at most: they are per finding, and a noisy namespace must
    /// not turn one diagnosis into dozens of calls.
    public static let maxFollowUps = 8

    /// What the follow-up reads produced: their gated results (for the tools list, the bundle and the
    /// model's briefing) and what kept some from running.
    struct FollowUpReads: Sendable {
        var reads: [GatedRead] = []
        var problems: [String] = []
    }

    /// Runs the kept candidates' follow-up reads through the gate like the runbook steps, at once and
    /// each once, and puts each output (or `{"error": …}`) into the element at the follow-up's `as`.
    /// A write tool is never run; a call past ``maxFollowUps`` or one whose arguments miss a value
    /// is not run, and its key stays absent.
    func followUps(_ candidates: inout [Candidate], for request: DiagnosisRequest) async -> FollowUpReads {
        let catalog = gate.catalog(for: request.target)
        let known = Set(gate.catalog(for: nil).map(\.name))
        var calls: [ToolCall] = []
        var skipped: Set<ToolCall> = []
        var wanted: [(candidate: Int, name: String, call: ToolCall)] = []
        var problems: [String] = []
        for (index, candidate) in candidates.enumerated() {
            for follow in candidate.rule.follow {
                let descriptor = catalog.first { $0.name == follow.tool }
                // An agent with nothing to see on this target (no pods on a database VM): nothing to read.
                if descriptor == nil, known.contains(follow.tool) { continue }
                if let descriptor, descriptor.action != .read {
                    let problem = "rule \(candidate.rule.id): the follow-up \(follow.tool) is a \(descriptor.action.rawValue) tool " +
                        "and was not run; follow-ups run read tools only"
                    if !problems.contains(problem) { problems.append(problem) }
                    continue
                }
                guard let call = followUpCall(follow, element: candidate.element, descriptor: descriptor, request: request) else { continue }
                if !calls.contains(call) {
                    guard calls.count < Self.maxFollowUps else {
                        skipped.insert(call)
                        continue
                    }
                    calls.append(call)
                }
                wanted.append((index, follow.name, call))
            }
        }
        if !skipped.isEmpty {
            problems.append("\(skipped.count) follow-up read(s) not run: at most \(Self.maxFollowUps) per diagnosis")
        }
        guard !calls.isEmpty else { return FollowUpReads(problems: problems) }
        let reads = await run(calls.map { ($0, options.toolTimeout) }, for: request)
        problems += reads.filter { $0.verdict.effect != .allow }.map { "\($0.result.call.tool): \($0.verdict.explanation)" }
        var outputs: [ToolCall: JSONValue] = [:]
        for read in reads {
            let result = read.result
            outputs[result.call] = result.output ?? .object(["error": .string(result.error ?? "the tool gave no output")])
        }
        for (index, name, call) in wanted {
            guard let output = outputs[call] else { continue }
            candidates[index].element = candidates[index].element.setting(name, to: output)
        }
        return FollowUpReads(reads: reads, problems: problems)
    }

    /// The call a follow-up makes for `element`, or `nil` when an argument names a value the element
    /// does not have (a read about `?` would only fail). Arguments the tool declares as text stay
    /// text; others filled from numbers become numbers. `namespace` is added as for runbook steps.
    private func followUpCall(_ follow: Rule.FollowUp, element: JSONValue, descriptor: ToolDescriptor?,
                              request: DiagnosisRequest) -> ToolCall? {
        var arguments: [String: JSONValue] = [:]
        for (key, template) in follow.args {
            let filled = Template.render(template, from: element)
            if filled.missing { return nil }
            let kind = descriptor?.parameters.first { $0.name == key }?.kind
            arguments[key] = kind == .string ? .string(filled.text) : Rule.argument(filled.text)
        }
        if let namespace = request.namespace, arguments["namespace"] == nil,
           descriptor?.parameters.contains(where: { $0.name == "namespace" }) == true {
            arguments["namespace"] = .string(namespace)
        }
        return ToolCall(tool: follow.tool, target: request.target, arguments: arguments)
    }
}
