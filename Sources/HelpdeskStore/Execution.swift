import Foundation
import HelpdeskCore

/// A write done (or started, or sent for approval) under an execution key: a Slack trigger id, an
/// API `Idempotency-Key`. A retried job or request finds it and does not act a second time.
public struct ExecutionRecord: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Started and not finished: the attempt died, so its outcome is unknown — never re-run.
        case running
        case succeeded, failed
        case pendingApproval = "pending_approval"
    }

    public var key: String
    public var principal: String
    public var state: State
    public var approvalID: String?
    public var result: JSONValue?
    public var createdAt: Date
    /// What the key was first used for (a digest of tool, target and arguments), so a key reused
    /// for another call is refused rather than answered with this one's result. `nil` for keys
    /// claimed before it was recorded.
    public var fingerprint: String? = nil
}

/// Execution keys and what became of them.
public protocol ExecutionLog: Sendable {
    /// Claims `key` for a first attempt: `nil` when this call claimed it (go ahead), else the
    /// record an earlier attempt left (do not act again).
    /// `fingerprint` names the call the key is claimed for; it is kept with the key.
    func claim(key: String, principal: String, fingerprint: String?, now: Date) async throws -> ExecutionRecord?
    func finish(key: String, state: ExecutionRecord.State, approvalID: String?, result: JSONValue?, now: Date) async throws
}

extension ExecutionLog {
    /// Claims `key` without saying for which call.
    public func claim(key: String, principal: String, now: Date) async throws -> ExecutionRecord? {
        try await claim(key: key, principal: principal, fingerprint: nil, now: now)
    }
}
