import Foundation

/// The durable store: everything the bot must not lose.
///
/// Deliberately narrow: callers hand over ``ChangeSet`` values and call job-queue operations; no
/// SQL or database handle crosses this boundary, so a PostgreSQL implementation can replace the
/// SQLite one without touching callers.
public protocol Store: Sendable {
    /// Applies one change set atomically. Concurrent calls are grouped into shared commits.
    @discardableResult
    func apply(_ changes: ChangeSet) async throws -> ChangeSetOutcome

    var jobs: any JobQueue { get }

    var incidents: any IncidentIndex { get }

    var audit: any AuditLog { get }

    var approvals: any ApprovalStore { get }

    var slackOutbox: any SlackOutboxStore { get }

    /// Web channel sessions signed out before they expired.
    var webSessions: any WebSessionStore { get }

    var alerts: any AlertIndex { get }

    var executions: any ExecutionLog { get }

    var storms: any StormStore { get }

    /// Prunes old alerts, finished jobs, sent messages and storm state; never the audit log.
    var retention: any RetentionStore { get }

    /// Where the store is, for messages: the SQLite file, or `host:port/database` (never a password).
    var location: String { get }

    /// The schema before and after this open (the migrations it applied, if any).
    var migration: MigrationReport { get }

    /// Leases for work one replica at a time must do.
    var singletons: any SingletonLeases { get }

    /// How far followers of the store got (written through ``ChangeSet/progress``).
    var progress: any ProgressStore { get }

    /// The chain sealing this store's audit events, once attached.
    var auditChain: AuditChain? { get }

    /// Seals new audit events with `chain`'s current key and verifies with its keys. Call once, right after opening.
    func attachAuditChain(_ chain: AuditChain)

    /// Whether the store answers and its schema is current; `nil` when healthy, else the reason.
    func unhealthyReason() async -> String?

    /// Flushes pending writes and closes. Later calls fail with ``StoreError/closed``.
    func close() async throws
}

/// The durable job queue inside the store. Times are passed in so callers (and tests) own the clock.
public protocol JobQueue: Sendable {
    /// Takes up to `limit` due jobs (queued and due, or running with an expired lease) for `owner`.
    func lease(owner: String, limit: Int, duration: Duration, now: Date) async throws -> [LeasedJob]

    /// Extends a lease; `false` when it was taken over.
    func renew(_ job: LeasedJob, until: Date) async throws -> Bool

    /// Marks the job done and applies `followUp` in the same transaction; `false` when the lease was
    /// taken over (the result is then discarded and `followUp` not applied).
    func complete(_ job: LeasedJob, result: String?, followUp: ChangeSet, now: Date) async throws -> Bool

    /// Records a failed attempt: back to the queue at `retryAt`, or dead-lettered when `retryAt` is
    /// `nil` or the job is out of attempts.
    func fail(_ job: LeasedJob, error: String, retryAt: Date?, now: Date) async throws -> FailureDisposition

    /// Takes back at once the leases held by processes of `current`'s host that are gone (see
    /// ``LeaseOwner/isOrphaned(seenFrom:isAlive:)``), in one write: each run is closed as abandoned and
    /// its job queued again with the attempt counted, or dead-lettered when out of attempts. Leases of
    /// other hosts, of live processes and with unreadable owners are left to expire.
    func reclaimOrphanedLeases(seenFrom current: LeaseOwner, isAlive: @escaping @Sendable (Int32) -> Bool,
                               now: Date) async throws -> [ReclaimedLease]

    /// Gives a job back without counting the attempt (graceful shutdown).
    func release(_ job: LeasedJob, now: Date) async throws

    /// Puts a dead (or backing-off) job back in the queue, due now, with its attempts reset.
    func retry(id: JobID, now: Date) async throws -> JobRecord

    func job(id: JobID) async throws -> JobRecord?
    func list(state: JobState?, limit: Int) async throws -> [JobRecord]
    func runs(jobID: JobID) async throws -> [JobRun]
    func stats(now: Date) async throws -> JobStats

    /// Returns when a job may have become ready in this process, or after `timeout`. Workers call it
    /// between polls so work enqueued here starts at once; work from other processes waits a poll.
    func waitForWork(timeout: Duration) async
}
