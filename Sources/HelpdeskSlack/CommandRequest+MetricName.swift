/// A command's name for `helpdesk_slack_commands_total{command}`: the verb of a command that parsed,
/// `other` for one that did not, so what people type never becomes a label value.
extension CommandRequest {
    /// Every value the `command` label takes.
    public static let metricNames = [
        "help", "status", "incidents", "incident", "approvals", "approve", "deny", "explain", "silence", "diagnose", "db", "k8s", "other",
    ]

    public var metricName: String {
        switch self {
        case .help: "help"
        case .diagnose: "diagnose"
        case .status: "status"
        case .db: "db"
        case .k8s: "k8s"
        case .incidents: "incidents"
        case .incident: "incident"
        case .approvals: "approvals"
        case .approve: "approve"
        case .deny: "deny"
        case .explain: "explain"
        case .silence: "silence"
        case .unknown: "other"
        }
    }
}
