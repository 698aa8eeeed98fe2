import Foundation

/// What retention prunes. The audit log is deliberately absent: it is never pruned, only exported.
public enum RetentionKind: String, Sendable, CaseIterable {
    /// Received alert records: a resolved episode by the age of its resolution, a firing alert only
    /// once it has not been received for the whole age (an alert still firing is never pruned); alert
    /// groups not seen for the age with their thread, and closed storms with theirs.
    case alerts
    /// Jobs that finished (done or dead-lettered), with their runs.
    case jobs
    /// Slack messages already sent (thread roots are kept as long as their alert group or storm, so a
    /// group never gets a second root).
    case outbox
}

/// Deletes old rows in small batches: each call is one short transaction, so a prune never holds
/// the writer long enough to slow ingestion.
public protocol RetentionStore: Sendable {
    /// Deletes at most `limit` rows of `kind` older than `cutoff`; returns how many went (0 when done).
    func prune(_ kind: RetentionKind, olderThan cutoff: Date, limit: Int) async throws -> Int
}
