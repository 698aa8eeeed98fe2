/// aiHelpDesk's names for tools this project has under another name, so its policy files keep meaning
/// what they say: `match.tool: terminate_connection` is `terminate_backend` here (both end a session
/// with pg_terminate_backend). Only true equivalents are listed: the same question answered or the
/// same change made, with the same action class (read, write, destructive). aiHelpDesk tools with no
/// equivalent are not mapped, and a policy naming one gets a warning. `restart_deployment` and
/// `scale_deployment` are mapped for matching (a deny written for them must still cover ours) but warned
/// about: aiHelpDesk classes them destructive where `rollout_restart` and `scale` are writes here, so the
/// rule's action may need a look (policies/README.md).
public enum AIHelpDeskToolNames {
    /// aiHelpDesk's name → ours (internal/policy and agents/ at aiHelpDesk commit 92bea68).
    public static let equivalents: [String: String] = [
        "terminate_connection": "terminate_backend",
        "get_server_info": "server_info",
        "get_connection_stats": "connection_stats",
        "get_replication_status": "replication_status",
        "get_lock_info": "blocking_locks",
        "get_blocking_queries": "blocking_locks",
        "get_slow_queries": "top_queries",
        "get_vacuum_status": "vacuum_stats",
        "get_pods": "pods",
        "get_events": "events",
        "get_pod_logs": "pod_logs",
    ]

    /// aiHelpDesk tools whose counterpart here has another action class: matched as ours, with a warning
    /// that a rule for `action: destructive` on them does not cover ours, which are writes.
    static let counterparts: [String: (tool: String, action: String)] = [
        "restart_deployment": ("rollout_restart", "write"),
        "scale_deployment": ("scale", "write"),
    ]

    /// Our name → aiHelpDesk's names for it, so a `tool_pattern` written for its names matches ours.
    static let aliases: [String: [String]] = Dictionary(grouping: matched.keys, by: { matched[$0] ?? $0 })

    /// Every aiHelpDesk name a policy's `tool`/`tool_pattern` is matched as: equivalents and counterparts.
    static let matched: [String: String] = equivalents.merging(counterparts.mapValues(\.tool)) { first, _ in first }

    /// The name this project uses for `name`: ours for an aiHelpDesk name with an equivalent, else `name`.
    public static func ours(_ name: String) -> String {
        matched[name] ?? name
    }

    /// Whether the shell pattern `pattern` matches `tool` or one of aiHelpDesk's names for it.
    static func pattern(_ pattern: String, matches tool: String) -> Bool {
        glob(pattern, tool) || (aliases[tool] ?? []).contains { glob(pattern, $0) }
    }
}
