import HelpdeskAlertmanagerAgent
import HelpdeskDatabaseAgent
import HelpdeskKubernetesAgent

/// Every tool this server's agents have (those ``DiagnosisEngine/makeAgents(_:environment:logger:)``
/// makes), whatever the configuration: policy files are checked against it, so a `match.tool` or
/// `match.tool_pattern` that names none of them is a warning instead of a rule that silently never
/// applies. One list, built from the agents themselves, for `serve`, its reloads and every check.
public enum BuiltInTools {
    public static let names: Set<String> = Set(DatabaseAgent.toolNames + KubernetesAgent.toolNames + [AlertmanagerAgent.silenceTool])
}
