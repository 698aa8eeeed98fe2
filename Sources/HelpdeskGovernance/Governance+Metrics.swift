import Foundation
import HelpdeskCore
import HelpdeskStore
import Metrics

/// The gate's metrics, counted where it decides and runs, through swift-metrics' global factory
/// (`helpdesk serve` bootstraps it with the Prometheus registry; elsewhere they go nowhere).
/// Every label value comes from a fixed set: effects, the agents' tool names, approval states.
extension Governance {
    /// Every `effect` of `helpdesk_policy_decisions_total`.
    public static let decisionEffects = [Effect.allow, .deny, .requireApproval].map(\.rawValue)
    /// Every `outcome` of `helpdesk_tool_calls_total`.
    public static let toolOutcomes = ["ok", "error"]
    /// Every `state` of `helpdesk_approvals_total`.
    public static let approvalStates = ["created", "approved", "denied", "expired"]

    /// The names of every tool the agents offer: the only values of `helpdesk_tool_calls_total`'s `tool` label.
    public var toolNames: [String] { catalog(for: nil).map(\.name) }

    static func countDecision(_ effect: Effect) {
        let metric = MetricCatalog.policyDecisions
        Counter(label: metric.name, dimensions: metric.dimensions(effect.rawValue)).increment()
    }

    /// Counts a call the gate ran; `tool` is one an agent offers (the gate runs nothing else).
    static func countToolCall(_ tool: String, failed: Bool) {
        let metric = MetricCatalog.toolCalls
        Counter(label: metric.name, dimensions: metric.dimensions(tool, failed ? "error" : "ok")).increment()
    }

    /// Counts an approval request reaching `state`; an approval or denial also records how long it took.
    public static func countApproval(_ state: String, _ record: ApprovalRecord? = nil) {
        let metric = MetricCatalog.approvals
        Counter(label: metric.name, dimensions: metric.dimensions(MetricCatalog.bounded(state, among: approvalStates))).increment()
        if state == "approved" || state == "denied", let record {
            let waited = (record.decidedAt ?? Date()).timeIntervalSince(record.createdAt)
            Timer(label: MetricCatalog.approvalDecision.name).recordSeconds(max(0, waited))
        }
    }
}
