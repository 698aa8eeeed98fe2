import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore
import Logging

extension Governance {
    /// Why `principal` may not approve a request of `requester` under `approvers`, or `nil` when they may.
    ///
    /// Without `approvers`, any person under `users:` but the requester; with them, whoever they
    /// name — services and API-token principals only where a rule names them.
    func refusal(toApprove principal: Principal, approvers: [PrincipalMatcher], requester: String, id: String) -> String? {
        Self.approvalRefusal(for: principal, approvers: approvers, requester: requester, id: id, directory: directory)
    }

    /// The rule of ``refusal(toApprove:approvers:requester:id:)`` against `directory`, for whoever checks a
    /// vote after the fact (secbot's `outsider_vote`): one rule, not a second copy of it.
    public static func approvalRefusal(for principal: Principal, approvers: [PrincipalMatcher], requester: String, id: String,
                                       directory: UserDirectory) -> String? {
        if principal.kind == .anonymous {
            return "only known users may decide approval requests; ask an administrator to add you under users:"
        }
        if principal.description == requester { return "\(principal) asked for \(id) and cannot decide it; another approver must" }
        let isPerson = principal.kind == .user && directory.user(named: principal.id) != nil
        if approvers.isEmpty {
            return isPerson ? nil : "\(principal) is not a person under users:; without approvers in the rule, only they may approve \(id)"
        }
        let named = approvers.contains { matcher in
            switch matcher {
            case .any: isPerson
            case .user, .role, .service, .anyOf: matcher.matches(principal)
            }
        }
        return named ? nil : "\(principal) is not among the approvers of \(id) (\(approvers.map(\.description).joined(separator: ", ")))"
    }

    /// Records a vote by `principal` after checking they may cast it; earlier votes count only if
    /// their voters still may approve under the current `users:`.
    public func vote(on id: String, by principal: Principal, approve: Bool, reason: String?, via: String) async throws -> VoteResult {
        try await LogCorrelation.with(.approvalID, id) {
            try await recordVote(on: id, by: principal, approve: approve, reason: reason, via: via)
        }
    }

    private func recordVote(on id: String, by principal: Principal, approve: Bool, reason: String?, via: String) async throws -> VoteResult {
        guard let record = try await store.approvals.approval(id: id) else { return .notFound(id) }
        if record.status != .pending { return .alreadyDecided(record) }
        let approvers = (record.policyDecision?.approvers ?? []).map(PrincipalMatcher.parse)
        if let why = refusal(toApprove: principal, approvers: approvers, requester: record.requester, id: id) {
            // Refused, and still on record: a vote by someone who may not decide is what secbot looks for.
            // Once per voter and request: clicking again adds nothing to the log.
            let earlier = try await store.audit.latest(AuditFilter(principal: principal.description, kind: "approval_vote_refused", target: id),
                                                       limit: 1)
            if earlier.isEmpty {
                try await store.apply(ChangeSet(audit: [AuditDraft(
                    kind: "approval_vote_refused", principal: principal.description, target: id,
                    data: .object(["vote": .string(approve ? "approve" : "deny"), "via": .string(via), "reason": .string(why)]))]))
            }
            return .refused(why)
        }
        // One execution job per approval round: a request reopened by a stricter policy is approved again.
        let job = NewJob(kind: Self.executeJobKind, payload: ApprovalExecution(approvalID: id).jsonText,
                         dedupKey: "approval-execute:\(id):\(record.votes.count + 1)", maxAttempts: 3)
        let outcome = try await store.approvals.vote(
            id: id, principal: principal.description, choice: approve ? .approve : .deny, reason: reason, via: via, now: now(), execute: job,
            qualifies: { voter in refusal(toApprove: self.principal(named: voter), approvers: approvers, requester: record.requester, id: id) == nil })
        switch outcome {
        case .recorded(let updated):
            let approvals = updated.votes.filter { $0.vote == .approve && qualifiesNow($0.principal, updated) }.count
            return .recorded(updated, remaining: max(0, updated.quorum - approvals))
        case .approved(let updated):
            Self.countApproval("approved", updated)
            await notify { $0.decided(updated, summary: "approved by \(updated.decidedBy ?? "?"); running now") }
            return .approved(updated)
        case .denied(let updated):
            Self.countApproval("denied", updated)
            await notify { $0.decided(updated, summary: "denied by \(updated.decidedBy ?? "?")") }
            return .denied(updated)
        case .alreadyDecided(let updated): return .alreadyDecided(updated)
        case .expired(let updated):
            Self.countApproval("expired")
            return .expired(updated)
        case .alreadyVoted: return .refused("\(principal) has already voted on \(id); each approver counts once")
        case .notFound: return .notFound(id)
        }
    }

    private func qualifiesNow(_ voter: String, _ record: ApprovalRecord) -> Bool {
        let approvers = (record.policyDecision?.approvers ?? []).map(PrincipalMatcher.parse)
        return refusal(toApprove: principal(named: voter), approvers: approvers, requester: record.requester, id: record.id) == nil
    }

    /// Applies what the notifiers want written; a failure is logged, never fails the decision.
    func notify(_ changes: (any ApprovalNotifier) -> ChangeSet) async {
        for notifier in notifiers {
            do {
                try await store.apply(changes(notifier))
            } catch {
                logger.error("cannot queue an approval notification", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Runs an approved request: once, with exactly the approved (pinned) call, and only if the
    /// policies in force now still allow it — a schedule that closed, a stricter policy loaded
    /// since, or an approval older than `approvals.execute_within` stops it, and the thread and
    /// the audit log say why. A request now needing more or other approvers goes back to pending.
    /// `retryingAfterInterruption` is set when an earlier attempt of the execution job died: a
    /// request still marked running is then closed as interrupted, never run a second time.
    public func executeApproved(_ id: String, retryingAfterInterruption: Bool = false) async throws -> JSONValue {
        guard let record = try await store.approvals.claimExecution(id: id, now: now()) else {
            guard let current = try await store.approvals.approval(id: id) else { return .string("no approval \(id)") }
            if current.execution == "running", retryingAfterInterruption {
                let result: JSONValue = .object(["error": .string("interrupted before its result was recorded; not run again, so it never runs twice")])
                try await store.approvals.finishExecution(id: id, succeeded: false, result: result, now: now())
                return result
            }
            return .string("\(id) has nothing to run (status \(current.status.rawValue), execution \(current.execution ?? "none"))")
        }
        guard let request = record.call, let (agent, descriptor) = tool(named: request.tool) else {
            return try await notRun(record, why: "no agent offers \(record.call?.tool ?? "the requested tool") any more")
        }
        let startedAt = now()
        if let approvedAt = record.decidedAt, startedAt.timeIntervalSince(approvedAt) > executeWithin.seconds {
            return try await notRun(record, why: "approved at \(approvedAt.formatted(.iso8601)) but not started within "
                                    + "\(executeWithin.compactText) (approvals.execute_within); it expired unrun")
        }
        let requester = principal(named: record.requester)
        let impact = descriptor.action == .read ? ToolImpact.none : await measure(request.call, agent: agent)
        let (decision, _, _) = try decide(request.call, by: requester, impact: impact, purpose: request.purpose, at: startedAt)
        switch decision.effect {
        case .deny:
            return try await notRun(record, why: "denied when it was about to run: \(decision.reason)", decision: decision)
        case .requireApproval:
            let approvers = decision.approvers.map(PrincipalMatcher.parse)
            let counted = record.votes.filter { vote in
                vote.vote == .approve && refusal(toApprove: principal(named: vote.principal), approvers: approvers,
                                                 requester: record.requester, id: id) == nil
            }.count
            if counted < decision.quorum {
                return try await reopen(record, decision: decision, counted: counted)
            }
        case .allow:
            break
        }
        let outcome = await run(request.call, descriptor: descriptor, agent: agent, principal: record.requester, decision: decision, approvalID: id)
        switch outcome {
        case .ran(let output, _):
            try await store.approvals.finishExecution(id: id, succeeded: true, result: output, now: now())
            if let finished = try await store.approvals.approval(id: id) {
                await notify { $0.decided(finished, summary: "ran: \(String(output.jsonText.prefix(300)))") }
            }
            return output
        case .failed(let error, _):
            let result: JSONValue = .object(["error": .string(error)])
            try await store.approvals.finishExecution(id: id, succeeded: false, result: result, now: now())
            if let finished = try await store.approvals.approval(id: id) {
                await notify { $0.decided(finished, summary: "failed: \(error)") }
            }
            return result
        case .denied, .pendingApproval, .repeated:
            return .null
        }
    }

    /// Closes a claimed execution without running it, saying why in its result, the audit log and the thread.
    private func notRun(_ record: ApprovalRecord, why: String, decision: Decision? = nil) async throws -> JSONValue {
        let result: JSONValue = .object(["error": .string(why)])
        try await store.approvals.finishExecution(id: record.id, succeeded: false, result: result, now: now())
        var data: [String: JSONValue] = ["outcome": .string("not_run"), "reason": .string(why)]
        if let decision { data["decision"] = encode(decision) }
        try await store.apply(ChangeSet(audit: [AuditDraft(kind: "approval_not_run", principal: record.requester, target: record.id,
                                                          data: .object(data))]))
        logger.notice("approved request not run", metadata: ["approval": "\(record.id)", "reason": "\(why)"])
        if let finished = try await store.approvals.approval(id: record.id) {
            await notify { $0.decided(finished, summary: "not run: \(why)") }
        }
        return result
    }

    /// Back to pending under the requirement in force now; votes that still qualify keep counting.
    private func reopen(_ record: ApprovalRecord, decision: Decision, counted: Int) async throws -> JSONValue {
        let ttl = decision.approvalTTLSeconds.map { Duration.milliseconds(Int64($0 * 1000)) } ?? defaultTTL
        let why = "the policies in force now want \(decision.quorum) approval(s) (\(counted) still count): \(decision.reason)"
        let audit = AuditDraft(kind: "approval_reopened", principal: record.requester, target: record.id, data: .object([
            "reason": .string(why), "decision": encode(decision), "quorum": .number(Double(decision.quorum)),
        ]))
        guard let reopened = try await store.approvals.reopen(id: record.id, quorum: decision.quorum, decision: encode(decision),
                                                              expiresAt: now().addingTimeInterval(ttl.seconds), now: now(), audit: [audit]) else {
            return .string("\(record.id) could not be reopened")
        }
        logger.notice("approved request reopened", metadata: ["approval": "\(record.id)", "reason": "\(why)"])
        await notify { $0.opened(reopened, decision: decision) }
        return .object(["reopened": .string(why)])
    }
}

/// The payload of an approval's execution job.
public struct ApprovalExecution: Sendable, Codable, Equatable {
    public var approvalID: String

    enum CodingKeys: String, CodingKey {
        case approvalID = "approval_id"
    }

    public init(approvalID: String) {
        self.approvalID = approvalID
    }

    public var jsonText: String {
        (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
