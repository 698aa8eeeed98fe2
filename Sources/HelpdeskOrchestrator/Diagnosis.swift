import Foundation
import HelpdeskAgents
import HelpdeskCore

/// Something a rule found, with the evidence that raised it and what to do about it.
public struct Finding: Sendable, Codable {
    public var rule: String
    public var tool: String
    public var severity: Severity
    public var summary: String
    public var evidence: JSONValue
    public var recommendedActions: [RecommendedAction]
    /// What a person should do when no tool fixes it (the runbook rule's `advice`).
    public var advice: String? = nil
    /// How many elements the finding stands for (a rule's `group`); 1 otherwise.
    public var count: Int = 1

    enum CodingKeys: String, CodingKey {
        case rule, tool, severity, summary, evidence
        case recommendedActions = "recommended_actions", advice, count
    }
}

/// `advice` is left out when there is none, `count` always written; both may be missing when read
/// (a diagnosis from an older server).
extension Finding {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rule = try container.decode(String.self, forKey: .rule)
        tool = try container.decode(String.self, forKey: .tool)
        severity = try container.decode(Severity.self, forKey: .severity)
        summary = try container.decode(String.self, forKey: .summary)
        evidence = try container.decode(JSONValue.self, forKey: .evidence)
        recommendedActions = try container.decode([RecommendedAction].self, forKey: .recommendedActions)
        advice = try container.decodeIfPresent(String.self, forKey: .advice)
        count = try container.decodeIfPresent(Int.self, forKey: .count) ?? 1
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule, forKey: .rule)
        try container.encode(tool, forKey: .tool)
        try container.encode(severity, forKey: .severity)
        try container.encode(summary, forKey: .summary)
        try container.encode(evidence, forKey: .evidence)
        try container.encode(recommendedActions, forKey: .recommendedActions)
        try container.encodeIfPresent(advice, forKey: .advice)
        try container.encode(count, forKey: .count)
    }
}

/// A tool call the diagnosis proposes. It is never run by the diagnosis itself: governance decides.
public struct RecommendedAction: Sendable, Codable {
    public var call: ToolCall
    public var reason: String
    /// The summary of the finding that recommended it (runbook actions), shown to approvers with the request.
    public var finding: String?
}

/// How one tool run went.
public struct ToolRun: Sendable, Codable {
    public var tool: String
    public var arguments: [String: JSONValue]
    public var action: ActionClass
    public var milliseconds: Int
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case tool, arguments, action, milliseconds, error
    }

    /// `error` is always present (null when the tool succeeded), so readers need not guess.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tool, forKey: .tool)
        try container.encode(arguments, forKey: .arguments)
        try container.encode(action, forKey: .action)
        try container.encode(milliseconds, forKey: .milliseconds)
        try container.encode(error, forKey: .error)
    }
}

/// How the optional model-led investigation went.
public struct LLMReport: Sendable, Codable {
    public var provider: String
    public var steps: Int
    public var inputTokens: Int
    public var outputTokens: Int
    /// Why it ended early, if it did (its failure never fails the diagnosis).
    public var stoppedBecause: String?

    enum CodingKeys: String, CodingKey {
        case provider, steps, inputTokens = "input_tokens", outputTokens = "output_tokens", stoppedBecause = "stopped_because"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(provider, forKey: .provider)
        try container.encode(steps, forKey: .steps)
        try container.encode(inputTokens, forKey: .inputTokens)
        try container.encode(outputTokens, forKey: .outputTokens)
        try container.encode(stoppedBecause, forKey: .stoppedBecause)
    }
}

/// The answer to "what is wrong with TARGET": findings, recommended actions, the tools behind them
/// and the incident bundle holding every tool's output.
public struct Diagnosis: Sendable, Encodable {
    public var incidentID: String
    public var target: String
    public var trigger: String
    public var runbooks: [String]
    public var summary: String
    public var findings: [Finding]
    public var tools: [ToolRun]
    public var startedAt: Date
    public var milliseconds: Int
    public var bundlePath: String?
    /// Why the diagnosis could not look at everything, e.g. an unknown target.
    public var problems: [String]
    /// The model's analysis, in LLM mode.
    public var analysis: String?
    /// Write tools the model proposed (runbook recommendations live in the findings).
    public var proposedActions: [RecommendedAction] = []
    public var llm: LLMReport?

    /// `runbook` (deterministic) or `llm` (runbooks, then a model-led investigation).
    public var mode: String { llm == nil ? "runbook" : "llm" }

    public var isHealthy: Bool { findings.isEmpty && problems.isEmpty && tools.allSatisfy { $0.error == nil } }

    public var worstSeverity: Severity? { findings.map(\.severity).max() }

    public var recommendedActions: [RecommendedAction] {
        var seen: Set<ToolCall> = []
        return (findings.flatMap(\.recommendedActions) + proposedActions).filter { seen.insert($0.call).inserted }
    }

    enum CodingKeys: String, CodingKey {
        case incidentID = "incident_id", target, trigger, runbooks, summary, findings, tools
        case startedAt = "started_at", milliseconds, bundlePath = "bundle_path", problems
        case recommendedActions = "recommended_actions", healthy, mode, analysis, llm
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(incidentID, forKey: .incidentID)
        try container.encode(target, forKey: .target)
        try container.encode(trigger, forKey: .trigger)
        try container.encode(runbooks, forKey: .runbooks)
        try container.encode(summary, forKey: .summary)
        try container.encode(isHealthy, forKey: .healthy)
        try container.encode(findings, forKey: .findings)
        try container.encode(recommendedActions, forKey: .recommendedActions)
        try container.encode(tools, forKey: .tools)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(milliseconds, forKey: .milliseconds)
        try container.encodeIfPresent(bundlePath, forKey: .bundlePath)
        try container.encode(problems, forKey: .problems)
        try container.encode(mode, forKey: .mode)
        try container.encode(analysis, forKey: .analysis)
        try container.encodeIfPresent(llm, forKey: .llm)
    }

    /// The diagnosis as Markdown: `diagnosis.md` in the bundle, and what `helpdesk diagnose` prints.
    public var markdown: String {
        var lines = ["# \(summary)", "", "- target: \(target)", "- trigger: \(trigger)", "- mode: \(mode)",
                     "- runbooks: \(runbooks.isEmpty ? "none" : runbooks.joined(separator: ", "))",
                     "- incident: \(incidentID)", "- took: \(milliseconds) ms", ""]
        if !problems.isEmpty {
            lines += ["## Problems", ""] + problems.map { "- \($0)" } + [""]
        }
        if let analysis {
            lines += ["## Analysis (\(llm?.provider ?? "model"))", "", analysis, ""]
        }
        if let stopped = llm?.stoppedBecause {
            lines += ["_The model-led investigation ended early: \(stopped)._", ""]
        }
        if findings.isEmpty {
            lines += ["## Findings", "", "None.", ""]
        } else {
            lines += ["## Findings", ""]
            for finding in findings {
                lines.append("- **\(finding.severity.rawValue)** \(finding.summary) _(rule \(finding.rule), from \(finding.tool))_")
                if let advice = finding.advice { lines.append("  - advice: \(advice)") }
            }
            lines.append("")
        }
        let actions = recommendedActions
        if !actions.isEmpty {
            lines += ["## Recommended actions", ""]
            lines += actions.map { "- `\($0.call.summary)`" + ($0.reason.isEmpty ? "" : ": \($0.reason)") }
            lines.append("")
        }
        lines += ["## Tools", ""]
        lines += tools.map { run in
            "- \(run.tool) (\(run.action.rawValue)): " + (run.error.map { "failed: \($0)" } ?? "ok") + ", \(run.milliseconds) ms"
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Read back from what ``encode(to:)`` writes (`helpdesk srebot --server` reads the server's answer):
/// `healthy` and `mode` follow from the rest, and the recommended actions that no finding holds
/// are the ones the model proposed.
extension Diagnosis: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        incidentID = try container.decode(String.self, forKey: .incidentID)
        target = try container.decode(String.self, forKey: .target)
        trigger = try container.decode(String.self, forKey: .trigger)
        runbooks = try container.decode([String].self, forKey: .runbooks)
        summary = try container.decode(String.self, forKey: .summary)
        findings = try container.decode([Finding].self, forKey: .findings)
        tools = try container.decode([ToolRun].self, forKey: .tools)
        startedAt = try container.decode(Date.self, forKey: .startedAt)
        milliseconds = try container.decode(Int.self, forKey: .milliseconds)
        bundlePath = try container.decodeIfPresent(String.self, forKey: .bundlePath)
        problems = try container.decode([String].self, forKey: .problems)
        analysis = try container.decodeIfPresent(String.self, forKey: .analysis)
        llm = try container.decodeIfPresent(LLMReport.self, forKey: .llm)
        let fromFindings = Set(findings.flatMap(\.recommendedActions).map(\.call))
        proposedActions = try container.decodeIfPresent([RecommendedAction].self, forKey: .recommendedActions)?
            .filter { !fromFindings.contains($0.call) } ?? []
    }
}
