import Foundation
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore

/// The parts of audit events secbot reads, typed. The gate writes them (see `Governance.callJSON` and
/// `Governance.run`); fields secbot does not need are not decoded, and an event that does not decode
/// as its kind says is skipped by the rule that wanted it.
enum SecbotEventData {
    /// `data.call` of `policy_decision` and `tool_call`: the call as the audit log keeps it (arguments redacted).
    struct Call: Decodable {
        var tool: String
        var target: String
        /// `read`, `write` or `destructive` (``ActionClass``'s raw values).
        var action: String
        var arguments: [String: JSONValue]?
    }

    /// `tool_call`: the call, the approval it ran under (approved runs only), and its error when it failed.
    struct ToolCall: Decodable {
        var call: Call
        var approval: String?
        var error: String?
        /// `ok`, `error`; `denied` or `not_run` for a call the gate refused.
        var outcome: String?
        /// The `policy_decision` that allowed it (calls the gate ran on an `allow`).
        var decisionID: String?

        enum CodingKeys: String, CodingKey { case call, approval, error, outcome, decisionID = "decision_id" }
    }

    /// `policy_decision`: the call and the decision (`Decision`, of which only the effect is read).
    struct PolicyDecision: Decodable {
        struct Verdict: Decodable {
            /// `allow`, `deny` or `require_approval` (``Effect``'s raw values).
            var effect: String
        }

        var call: Call
        var decision: Verdict?
        var decisionID: String?

        enum CodingKeys: String, CodingKey { case call, decision, decisionID = "decision_id" }
    }

    /// `approval_vote`: `approve` or `deny` (``ApprovalVote/Choice``'s raw values).
    struct Vote: Decodable {
        var vote: String
    }

    /// `policy_reloaded`: how many policies are in force, and the probes the reload widened.
    struct PolicyReloaded: Decodable {
        var policies: Int?
        var widened: [PolicyProbes.Widening]?
    }

    /// `event.data` decoded as `type`, or `nil` when it is not that shape.
    static func decode<Value: Decodable>(_ type: Value.Type, from event: AuditEvent) -> Value? {
        try? JSONDecoder().decode(type, from: Data(event.data.utf8))
    }
}

extension SecbotEventData.Call {
    /// Every string among the arguments (nested ones too), with the argument it came from.
    var stringArguments: [(name: String, value: String)] {
        var found: [(name: String, value: String)] = []
        func collect(_ name: String, _ value: JSONValue) {
            switch value {
            case .string(let text): found.append((name, text))
            case .array(let items): for item in items { collect(name, item) }
            case .object(let fields): for (key, item) in fields.sorted(by: { $0.key < $1.key }) { collect("\(name).\(key)", item) }
            case .null, .bool, .number: break
            }
        }
        for (name, value) in (arguments ?? [:]).sorted(by: { $0.key < $1.key }) { collect(name, value) }
        return found
    }

    /// Whether the call changes something (a `write` or `destructive` action).
    var changesSomething: Bool { action == "write" || action == "destructive" }
}
