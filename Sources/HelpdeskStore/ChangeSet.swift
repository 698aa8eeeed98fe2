import HelpdeskCore

/// Everything one request records, applied atomically: all of it commits or none of it does.
///
/// Handlers describe their writes as data rather than SQL, so every store implementation (SQLite
/// now, PostgreSQL later) applies the same change set in one transaction, and the SQLite store can
/// group many change sets into one commit. Later features add their own record kinds here.
public struct ChangeSet: Sendable, Equatable {
    public var jobs: [NewJob]
    public var incidents: [IncidentRecord]
    /// Appended to the hash-chained audit log in the same transaction.
    public var audit: [AuditDraft]
    /// Queued in the Slack outbox, sent in order per thread, after the thread's root.
    public var slackMessages: [OutboxMessage]
    /// Alerts received; each new one enqueues its `onNew` jobs, a repeat enqueues nothing.
    public var alerts: [AlertRecord]
    /// The notification `alerts` came in: its storm bookkeeping decides which of their jobs and
    /// messages are queued (all of them on a calm channel).
    public var notification: AlertNotificationIntake?
    /// The request and span the jobs and messages were queued from, kept with each so their runs
    /// continue them. Stores fill it from the applying task (``WorkOrigin/current()``) when unset.
    public var origin: WorkOrigin?
    /// Progress marks set (upserted) in the same transaction as the rest.
    public var progress: [ProgressMark]

    public init(jobs: [NewJob] = [], incidents: [IncidentRecord] = [], audit: [AuditDraft] = [], slackMessages: [OutboxMessage] = [],
                alerts: [AlertRecord] = [], notification: AlertNotificationIntake? = nil, progress: [ProgressMark] = []) {
        self.notification = notification
        self.progress = progress
        self.jobs = jobs
        self.incidents = incidents
        self.audit = audit
        self.slackMessages = slackMessages
        self.alerts = alerts
    }

    /// `jobs` as a change set of their own that keeps this one's origin (jobs a change set makes as it applies).
    func followingOn(_ jobs: [NewJob]) -> ChangeSet {
        var next = ChangeSet(jobs: jobs)
        next.origin = origin
        return next
    }

    /// Whether the change set holds audit events and nothing else. A record kind added later must be
    /// listed here: a test in SQLiteStoreTests compares the list with the type's fields.
    var isOnlyAudit: Bool {
        // Field by field: comparing a copy with an empty change set cost more than the rest of the check.
        jobs.isEmpty && incidents.isEmpty && slackMessages.isEmpty && alerts.isEmpty && notification == nil && progress.isEmpty
    }

    public var isEmpty: Bool { jobs.isEmpty && incidents.isEmpty && audit.isEmpty && slackMessages.isEmpty && alerts.isEmpty
        && progress.isEmpty }
}

/// What applying a ``ChangeSet`` did.
public struct ChangeSetOutcome: Sendable, Equatable {
    /// One entry per job in the change set: its id, or `nil` when its dedup key already existed.
    public var jobIDs: [JobID?]
    /// One entry per alert: whether it was new.
    public var newAlerts: [Bool] = []
    /// The channel's open storm after this change set, when it came with a notification.
    public var storm: StormID?
}
