import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore

/// The rules that read more than the event: the store's approvals and earlier decisions.
extension SecbotDetector {
    /// How far back an unapproved call's allowing decision is looked for.
    static let decisionLookback = 50

    /// A write or destructive call with no approved request (of the same call) and no allowing decision
    /// before it; and injection signs in its inputs and error.
    func toolCall(_ event: AuditEvent) async throws -> [Detection] {
        guard let data = SecbotEventData.decode(SecbotEventData.ToolCall.self, from: event) else { return [] }
        // An approved run carries the call as pinned: its `session_*` arguments were read from the target.
        var found = injection(in: event, call: data.call, error: data.error, pinned: data.approval != nil)
        guard data.call.changesSomething else { return found }
        if let why = try await unauthorized(event, data) {
            let subject = event.principal ?? "unknown"
            found.append(Detection(kind: .unauthorizedDestructive, subject: subject,
                                   summary: "\(data.call.action == "destructive" ? "destructive" : "write") call "
                                       + "\(SecbotText.name(data.call.tool)) on \(SecbotText.name(data.call.target)) by "
                                       + "\(SecbotText.name(subject)) (seq \(event.seq)) \(why)",
                                   events: [event]))
        }
        return found
    }

    /// Why the call was not authorized, or `nil` when it was.
    private func unauthorized(_ event: AuditEvent, _ data: SecbotEventData.ToolCall) async throws -> String? {
        // A call the gate refused (`Governance.refusal`) did not run.
        if let outcome = data.outcome, ["denied", "not_run"].contains(outcome) { return nil }
        if let id = data.approval {
            guard let record = try await store.approvals.approval(id: id) else {
                return "names approval \(SecbotText.name(id)), which does not exist"
            }
            guard record.status == .approved else { return "names approval \(record.id), which is \(record.status.rawValue)" }
            guard record.call?.tool == data.call.tool, record.call?.target == data.call.target else {
                return "names approval \(record.id), which approved another call"
            }
            return nil
        }
        guard let principal = event.principal else { return "has no principal" }
        // The decisions on record before the call, newest first: catching up on a busy log, later ones
        // must not push the call's own decision out of the look-back.
        let decisions = try await store.audit.latest(AuditFilter(principal: principal, kind: "policy_decision", target: data.call.target,
                                                                 beforeSeq: event.seq),
                                                     limit: Self.decisionLookback)
        if let decisionID = data.decisionID {
            // The gate names the decision that let the call run: exactly that one must be on record, and
            // no earlier call may have run on it.
            let named = decisions.contains { decision in
                guard let earlier = SecbotEventData.decode(SecbotEventData.PolicyDecision.self, from: decision) else { return false }
                return earlier.decisionID == decisionID && earlier.call.tool == data.call.tool && earlier.decision?.effect == Effect.allow.rawValue
            }
            guard named else { return "names decision \(SecbotText.name(decisionID)), which allowed no such call before it" }
            let calls = try await store.audit.latest(AuditFilter(principal: principal, kind: "tool_call", target: data.call.target,
                                                                 beforeSeq: event.seq), limit: Self.decisionLookback)
            let reused = calls.contains { SecbotEventData.decode(SecbotEventData.ToolCall.self, from: $0)?.decisionID == decisionID }
            return reused ? "reuses decision \(SecbotText.name(decisionID)), which an earlier call ran on" : nil
        }
        // Written before decisions were named: any allow for the same call on record before it.
        let allowed = decisions.contains { decision in
            guard decision.seq < event.seq, let earlier = SecbotEventData.decode(SecbotEventData.PolicyDecision.self, from: decision)
            else { return false }
            return earlier.call.tool == data.call.tool && earlier.decision?.effect == Effect.allow.rawValue
        }
        return allowed ? nil : "ran with no approved request and no decision allowing it"
    }

    /// SQL or command injection signs in a `policy_decision`'s call.
    func injection(in event: AuditEvent) -> [Detection] {
        guard let data = SecbotEventData.decode(SecbotEventData.PolicyDecision.self, from: event) else { return [] }
        return injection(in: event, call: data.call, error: nil, pinned: false)
    }

    /// At most one detection of each kind per event: the first input showing the sign.
    private func injection(in event: AuditEvent, call: SecbotEventData.Call, error: String?, pinned: Bool) -> [Detection] {
        var inputs = [InjectionInput(name: "target", value: call.target, isName: true)]
        // In a pinned call, `session_*` arguments are what the pin read from the target (another
        // session's SQL text, `pg_sleep(` and all): what the database ran, not what anyone typed. As
        // asked (a decision's call), they are input like any other and examined.
        inputs += call.stringArguments.filter { !(pinned && $0.name.hasPrefix("session_")) }
            .map { InjectionInput(name: $0.name, value: $0.value, isName: true) }
        if let error { inputs.append(InjectionInput(name: "error", value: error, isName: false)) }
        let subject = event.principal ?? "unknown"
        func detection(_ kind: DetectionKind, _ input: InjectionInput, _ sign: SecbotPatterns.Pattern) -> Detection {
            let place = input.name == "error" && !input.isName ? "the error of"
                : input.name == "target" ? "the target of" : "argument \(SecbotText.name(input.name)) of"
            return Detection(kind: kind, subject: subject,
                             summary: "\(place) \(SecbotText.name(call.tool)) in \(event.kind) seq \(event.seq) by "
                                 + "\(SecbotText.name(subject)) shows \(sign.why)",
                             events: [event])
        }
        var found: [Detection] = []
        for input in inputs {
            if let sign = SecbotPatterns.sqlSign(in: input.value) {
                found.append(detection(.potentialSQLInjection, input, sign))
                break
            }
        }
        for input in inputs {
            if let sign = SecbotPatterns.commandSign(in: input.value, argument: input.isName ? input.name : nil) {
                found.append(detection(.potentialCommandInjection, input, sign))
                break
            }
        }
        return found
    }

    /// A vote by someone the request's approvers do not include (the gate's own rule,
    /// `Governance.approvalRefusal`), and an approval cast sooner than `secbot.fast_approval` after the request opened.
    func vote(_ event: AuditEvent) async throws -> [Detection] {
        guard let vote = SecbotEventData.decode(SecbotEventData.Vote.self, from: event), let id = event.target,
              let voter = event.principal, let record = try await store.approvals.approval(id: id) else { return [] }
        var found: [Detection] = []
        let approvers = (record.policyDecision?.approvers ?? []).map(PrincipalMatcher.parse)
        let principal = Governance.principal(named: voter, in: directory)
        if Governance.approvalRefusal(for: principal, approvers: approvers, requester: record.requester, id: record.id,
                                      directory: directory) != nil {
            let named = approvers.isEmpty ? "people under users: other than the requester" : approvers.map(\.encoded).joined(separator: ", ")
            // A vote the gate refused is audited too (`approval_vote_refused`): the attempt is the signal.
            let verb = event.kind == "approval_vote" ? "voted" : "tried to vote"
            let choice = vote.vote == "approve" ? "approve" : "deny"
            let summary = voter == record.requester
                ? "\(SecbotText.name(voter)) \(verb) \(choice) on their own request \(record.id) (seq \(event.seq))"
                : "\(SecbotText.name(voter)) \(verb) \(choice) on \(record.id) (seq \(event.seq)), which only "
                    + "\(SecbotText.line(named, limit: 200)) may decide"
            found.append(Detection(kind: .outsiderVote, subject: voter, summary: summary, events: [event]))
        }
        let elapsed = event.at.timeIntervalSince(record.createdAt)
        if event.kind == "approval_vote", vote.vote == ApprovalVote.Choice.approve.rawValue, elapsed < settings.fastApproval.seconds {
            found.append(Detection(kind: .fastApproval, subject: voter,
                                   summary: "\(SecbotText.name(voter)) approved \(record.id) (seq \(event.seq)) "
                                       + "\(String(format: "%.1f", max(0, elapsed))) s after it opened, under "
                                       + "\(settings.fastApproval.compactText)",
                                   events: [event]))
        }
        return found
    }

    /// A reload that widened decisions on the probe set (`policy_reloaded` with a non-empty `widened`).
    func policyReload(_ event: AuditEvent) -> [Detection] {
        guard let data = SecbotEventData.decode(SecbotEventData.PolicyReloaded.self, from: event),
              let widened = data.widened, let first = widened.first else { return [] }
        return [Detection(kind: .policyWidened, subject: Detection.policiesSubject,
                          summary: "the policy reload at seq \(event.seq) widened \(widened.count) probe(s), e.g. "
                              + SecbotText.line("\(first.probe): \(first.before) → \(first.after)", limit: 200),
                          events: [event])]
    }
}

/// One input of a call that injection signs are looked for in: the target, an argument, or the error.
struct InjectionInput {
    var name: String
    var value: String
    /// Names hold no line break; an error (free text from the tool) may.
    var isName: Bool
}
