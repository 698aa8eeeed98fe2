import Foundation
import HelpdeskCore
import HelpdeskStore
import Logging

/// Writes each installed policy reload to the audit log as a `policy_reloaded` event (principal
/// `helpdesk`, target the policy files' origin), listing the probes whose decision it widened (see
/// ``PolicyProbes``): secbot reports a non-empty list as `policy_widened`.
///
/// ```json
/// {"policies": 4, "widened": [{"probe": "role:oncall terminate_backend orders-db", "before": "deny", "after": "allow"}]}
/// ```
public struct PolicyReloadRecorder: Sendable {
    /// At most this many widened probes are listed in one event (a rewrite can widen thousands).
    public static let maxListed = 200

    let store: any Store
    let probes: PolicyProbes
    let origin: String

    /// - Parameter origin: the policy file or folder in force, or `(built in)`.
    public init(store: any Store, probes: PolicyProbes, origin: String) {
        self.store = store
        self.probes = probes
        self.origin = origin
    }

    /// The event for a reload from `old` to `new`.
    public func event(from old: PolicyEngine, to new: PolicyEngine, at: Date = Date()) -> AuditDraft {
        let widened = probes.widened(from: old, to: new, at: at)
        let listed: [JSONValue] = widened.prefix(Self.maxListed).map { widening in
            .object(["probe": .string(widening.probe), "before": .string(widening.before), "after": .string(widening.after)])
        }
        return AuditDraft(kind: "policy_reloaded", principal: "helpdesk", target: origin,
                          data: .object(["policies": .number(Double(new.policies.count)), "widened": .array(listed)]))
    }

    /// Appends the event; a store that does not answer is logged, never fails the reload (the policies are in force).
    func record(from old: PolicyEngine, to new: PolicyEngine, reason: String, logger: Logger) async {
        let event = event(from: old, to: new)
        do {
            try await store.apply(ChangeSet(audit: [event]))
        } catch {
            logger.error("cannot write the audit event of a policy reload", metadata: ["reason": "\(reason)", "error": "\(error)"])
        }
        if case .object(let data) = event.data, case .array(let widened)? = data["widened"], !widened.isEmpty {
            logger.warning("policy reload widened access", metadata: ["reason": "\(reason)", "probes": "\(widened.count)"])
        }
    }
}
