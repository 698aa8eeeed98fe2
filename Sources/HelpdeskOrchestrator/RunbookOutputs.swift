import HelpdeskAgents
import HelpdeskCore

/// What each selected runbook's rules read. Runbooks that match together may run one tool with
/// different arguments (postgres-health's `long_running_queries` with `min_seconds: 300`,
/// postgres-locks' with 30): a rule reads its own runbook's call of a tool, so it never judges a
/// result another runbook asked for with another threshold. A tool its runbook does not run (a
/// runbook from an operator's folder may read one) is the first result of another runbook's call.
struct RunbookOutputs {
    /// The output of each call that gave one (a call two runbooks make alike runs once).
    private var byCall: [ToolCall: JSONValue] = [:]
    /// The first output of each tool, in step order.
    private var byTool: [String: JSONValue] = [:]

    init(_ results: [ToolResult]) {
        for result in results {
            guard let output = result.output else { continue }
            if byCall[result.call] == nil { byCall[result.call] = output }
            if byTool[result.call.tool] == nil { byTool[result.call.tool] = output }
        }
    }

    /// Tool name → output for a runbook whose calls are `calls` (tool name → its call of that tool). A
    /// call of its own that failed or was refused gives nothing: another runbook's result of the tool
    /// was asked for with other arguments.
    func outputs(for calls: [String: ToolCall]) -> [String: JSONValue] {
        var outputs = byTool
        for (tool, call) in calls {
            outputs[tool] = byCall[call]
        }
        return outputs
    }
}
