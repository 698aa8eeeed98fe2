import HelpdeskAgents
import HelpdeskCore

/// What each Kubernetes write would change, read from the cluster, so a policy's
/// `max_pods_affected` sees the pods a call adds, removes or restarts.
extension KubernetesAgent {
    /// `scale`: the pods added or removed, |requested − current replicas|; `rollout_restart` and
    /// `rollout_undo`: every pod of the deployment (the larger of desired and existing replicas); reads: nothing.
    /// A write this agent cannot size says nothing (`pods == nil`), and a limit on it then refuses.
    /// No Kubernetes tool ends a database session, so the transaction age is 0 (`max_xact_age_secs`).
    public func impact(of call: ToolCall) async throws -> ToolImpact {
        guard let descriptor = tools.first(where: { $0.name == call.tool }) else {
            throw ToolError("the kubernetes agent has no tool \(call.tool); it has: \(tools.map(\.name).joined(separator: ", "))")
        }
        if let problem = descriptor.validate(call.arguments) { throw ToolError(problem) }
        switch call.tool {
        case "scale":
            guard let requested = call.integer("replicas"), (0...1000).contains(requested) else {
                throw ToolError("replicas must be 0 to 1000")
            }
            let current = try await replicas(of: call)
            return ToolImpact(rows: 0, pods: abs(Int(requested) - current.desired), sessions: 0, transactionAgeSeconds: 0)
        case "rollout_restart", "rollout_undo":
            // An undo rolls the pod template back: every pod is replaced, as by a restart.
            if call.tool == "rollout_undo" { _ = try Self.undoRevision(call) }
            let current = try await replicas(of: call)
            return ToolImpact(rows: 0, pods: max(current.desired, current.existing), sessions: 0, transactionAgeSeconds: 0)
        default:
            return descriptor.action == .read ? .none : ToolImpact(transactionAgeSeconds: 0)
        }
    }

    /// The deployment's desired replicas (`spec.replicas`, 1 when unset, as Kubernetes defaults it)
    /// and the pods it has now (`status.replicas`).
    private func replicas(of call: ToolCall) async throws -> (desired: Int, existing: Int) {
        let name = try Self.validName(call.arguments["name"]?.description, what: "deployment name", maxLength: 253)
        let (base, namespace) = try baseArguments(call)
        let deployment = try await json(base + ["get", "deployment", name, "-o", "json"])
        guard deployment.value(at: "kind") == .string("Deployment") else {
            throw ToolError("cannot read deployment \(name) in \(namespace) to size the change")
        }
        let desired = deployment.value(at: "spec.replicas")?.doubleValue ?? 1
        let existing = deployment.value(at: "status.replicas")?.doubleValue ?? 0
        return (Int(max(0, min(desired, 1_000_000))), Int(max(0, min(existing, 1_000_000))))
    }
}
