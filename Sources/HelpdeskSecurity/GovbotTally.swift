import Foundation
import HelpdeskStore

/// What govbot counts from the audit events of a window, one event at a time (a long window is
/// paged through, never held whole). Reads each event's data into small typed shapes; an event whose
/// data is not the shape its kind writes is counted as an event and otherwise skipped.
struct GovbotTally {
    /// A rule that decided: `policy` `nil` is the default deny; `rule` is the 0-based index decisions carry.
    struct RuleKey: Hashable, Comparable {
        var policy: String?
        var rule: Int?

        static func < (lhs: RuleKey, rhs: RuleKey) -> Bool {
            (lhs.policy ?? "", lhs.rule ?? -1) < (rhs.policy ?? "", rhs.rule ?? -1)
        }
    }

    /// A write or destructive call as its `tool_call` event tells it.
    struct ToolCallSeen {
        var event: AuditEvent
        var tool: String
        var target: String
        var action: String
        var outcome: String
        var approval: String?
    }

    struct ActorSeen {
        var events = 0
        var kinds: Set<String> = []
    }

    var events = 0
    var decisions = 0
    var byEffect: [String: Int] = [:]
    var byRule: [RuleKey: [String: Int]] = [:]
    /// Approval ids in the order their `approval_created` events came.
    var created: [String] = []
    /// `approval_decided` events: the request, `approved` or `denied`, and when.
    var decided: [(id: String, status: String, at: Date)] = []
    var expired: [String] = []
    var votes: [String: (approve: Int, deny: Int)] = [:]
    var toolCalls: [ToolCallSeen] = []
    var detections: [GovbotReport.Detection] = []
    var actors: [String: ActorSeen] = [:]

    private let decoder = JSONDecoder()

    mutating func add(_ event: AuditEvent) {
        events += 1
        if let principal = event.principal, isAction(event) {
            actors[principal, default: ActorSeen()].events += 1
            actors[principal, default: ActorSeen()].kinds.insert(event.kind)
        }
        switch event.kind {
        case "policy_decision":
            if let data = decode(GateData.self, event), let decision = data.decision { count(decision) }
        case "tool_call":
            guard let data = decode(GateData.self, event) else { return }
            // A diagnosis's read is decided inside the gate and written as its tool call alone; a call
            // from `request` carries no decision here (its `policy_decision` event came first).
            if let decision = data.decision { count(decision) }
            if let call = data.call, call.action == "write" || call.action == "destructive" {
                toolCalls.append(ToolCallSeen(event: event, tool: call.tool, target: call.target, action: call.action,
                                              outcome: data.outcome ?? "unknown", approval: data.approval))
            }
        case "approval_created":
            if let id = event.target { created.append(id) }
        case "approval_decided":
            if let id = event.target, let status = decode(StatusData.self, event)?.status { decided.append((id, status, event.at)) }
        case "approval_expired":
            if let id = event.target { expired.append(id) }
        case "approval_vote":
            guard let principal = event.principal, let vote = decode(VoteData.self, event)?.vote else { return }
            var counts = votes[principal] ?? (approve: 0, deny: 0)
            if vote == "approve" { counts.approve += 1 } else if vote == "deny" { counts.deny += 1 }
            votes[principal] = counts
        case "security_detection":
            guard let data = decode(DetectionData.self, event) else { return }
            detections.append(GovbotReport.Detection(at: event.at, kind: data.kind, subject: data.subject, summary: data.summary,
                                                     incident: data.incident, dryRun: data.dryRun ?? false))
        default:
            break
        }
    }

    private mutating func count(_ decision: DecisionData) {
        decisions += 1
        byEffect[decision.effect, default: 0] += 1
        byRule[RuleKey(policy: decision.policy, rule: decision.rule), default: [:]][decision.effect, default: 0] += 1
    }

    /// Whether the event is something its principal did: a rejected email names only who it claims to
    /// be from, and a failed sign-in only the name typed.
    func isAction(_ event: AuditEvent) -> Bool {
        switch event.kind {
        case "email_rejected": false
        case "web_login": decode(OutcomeData.self, event)?.outcome != "failure"
        default: true
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ event: AuditEvent) -> T? {
        try? decoder.decode(type, from: Data(event.data.utf8))
    }
}

// The shapes of the events' data govbot reads (see Governance's `decideAndAct`, `run` and
// `toolCallEvent`, the approval stores, and the SPEC's `security_detection`). Keys not listed are ignored.

private struct DecisionData: Decodable {
    var effect: String
    var policy: String?
    var rule: Int?
}

private struct CallData: Decodable {
    var tool: String
    var target: String
    var action: String
}

private struct GateData: Decodable {
    var decision: DecisionData?
    var call: CallData?
    var outcome: String?
    var approval: String?
}

private struct OutcomeData: Decodable {
    var outcome: String?
}

private struct StatusData: Decodable {
    var status: String
}

private struct VoteData: Decodable {
    var vote: String
}

private struct DetectionData: Decodable {
    var kind: String
    var subject: String
    var summary: String
    var incident: String?
    var dryRun: Bool?

    enum CodingKeys: String, CodingKey { case kind, subject, summary, incident, dryRun = "dry_run" }
}
