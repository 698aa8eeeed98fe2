import Foundation
import HelpdeskCore

public enum ApprovalStatus: String, Sendable, Codable, CaseIterable {
    case pending, approved, denied, expired
}

public struct ApprovalVote: Sendable, Equatable, Codable {
    public enum Choice: String, Sendable, Codable { case approve, deny }

    public var principal: String
    public var vote: Choice
    public var reason: String?
    public var at: Date
    /// How the vote arrived: `api`, `cli`, `slack`, `email-link`, `email-reply`.
    public var via: String?
}

/// An approval request as stored. `request` and `decision` are the governance layer's JSON (the
/// exact tool call, resource and policy decision); the store keeps them verbatim.
public struct ApprovalRecord: Sendable, Equatable, Codable {
    public var id: String
    public var createdAt: Date
    public var expiresAt: Date
    public var requester: String
    public var request: JSONValue
    public var decision: JSONValue
    public var quorum: Int
    public var status: ApprovalStatus
    public var decidedAt: Date?
    public var decidedBy: String?
    /// `queued`, `running`, `succeeded`, `failed` once approved.
    public var execution: String?
    public var result: JSONValue?
    public var executedAt: Date?
    public var votes: [ApprovalVote]

    enum CodingKeys: String, CodingKey {
        case id, createdAt = "created_at", expiresAt = "expires_at", requester, request, decision, quorum, status
        case decidedAt = "decided_at", decidedBy = "decided_by", execution, result, executedAt = "executed_at", votes
    }
}

public struct NewApproval: Sendable {
    public var id: String
    public var requester: String
    public var request: JSONValue
    public var decision: JSONValue
    public var quorum: Int
    public var createdAt: Date
    public var expiresAt: Date

    public init(id: String, requester: String, request: JSONValue, decision: JSONValue, quorum: Int, createdAt: Date, expiresAt: Date) {
        self.id = id
        self.requester = requester
        self.request = request
        self.decision = decision
        self.quorum = quorum
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// What a vote did.
public enum VoteOutcome: Sendable, Equatable {
    /// Counted; more approvals are needed.
    case recorded(ApprovalRecord)
    /// This vote completed the quorum: the action is queued to run once.
    case approved(ApprovalRecord)
    case denied(ApprovalRecord)
    /// Decided earlier; nothing changed.
    case alreadyDecided(ApprovalRecord)
    case expired(ApprovalRecord)
    /// This principal voted before; a principal counts once.
    case alreadyVoted(ApprovalRecord)
    case notFound
}

/// Approval requests and their votes. Every state change appends its audit event in the same
/// transaction; the vote that completes the quorum enqueues the execution job in it too.
public protocol ApprovalStore: Sendable {
    func create(_ approval: NewApproval, audit: [AuditDraft]) async throws -> ApprovalRecord
    /// `execute` is enqueued (with a dedup key, so at most once) when this vote completes the quorum.
    /// Earlier approvals count only while `qualifies` says their voter may still approve (people
    /// removed from `users:` since they voted do not count).
    func vote(id: String, principal: String, choice: ApprovalVote.Choice, reason: String?, via: String, now: Date, execute: NewJob,
              qualifies: @escaping @Sendable (String) -> Bool) async throws -> VoteOutcome
    /// Puts an approved request whose execution was claimed back to pending, with the requirement
    /// in force now (a stricter policy loaded since it was approved); votes are kept.
    func reopen(id: String, quorum: Int, decision: JSONValue, expiresAt: Date, now: Date, audit: [AuditDraft]) async throws -> ApprovalRecord?
    /// Marks every pending request past its expiry as expired, and returns them.
    func expire(now: Date) async throws -> [ApprovalRecord]
    /// Moves an approved request's execution from queued to running; `nil` when it is not queued
    /// (already run, or never approved), so an action can never start twice.
    func claimExecution(id: String, now: Date) async throws -> ApprovalRecord?
    func finishExecution(id: String, succeeded: Bool, result: JSONValue, now: Date) async throws
    func approval(id: String) async throws -> ApprovalRecord?
    func list(status: ApprovalStatus?, limit: Int) async throws -> [ApprovalRecord]
}

extension ApprovalStore {
    /// A vote where every earlier approval still counts.
    public func vote(id: String, principal: String, choice: ApprovalVote.Choice, reason: String?, via: String, now: Date,
                     execute: NewJob) async throws -> VoteOutcome {
        try await vote(id: id, principal: principal, choice: choice, reason: reason, via: via, now: now, execute: execute, qualifies: { _ in true })
    }
}
