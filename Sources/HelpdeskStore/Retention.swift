import Foundation

/// What retention prunes. The audit log is deliberately absent: it is never pruned, only exported.
public enum RetentionKind: String, Sendable, CaseIterable {
    /// Received alert records (and storm bookkeeping, when the store keeps any).
    case alerts
    /// Jobs that finished (done or dead-lettered), with their runs.
    case jobs
    /// Slack messages already sent (thread roots are kept as long as alerts, so a group never gets a second root).
    case outbox
}

/// Deletes old rows in small batches: each call is one short transaction, so a prune never holds
/// the writer long enough to slow ingestion.
public protocol RetentionStore: Sendable {
    /// Deletes at most `limit` rows of `kind` older than `cutoff`; returns how many went (0 when done).
    func prune(_ kind: RetentionKind, olderThan cutoff: Date, limit: Int) async throws -> Int
}
