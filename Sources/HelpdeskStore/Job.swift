import Foundation
import HelpdeskCore

public typealias JobID = Int64

/// Where a job is in its life. `dead` is the dead-letter state: out of attempts, kept with its last error.
public enum JobState: String, Sendable, CaseIterable, Codable {
    case queued, running, done, dead
}

/// A job to enqueue.
public struct NewJob: Sendable, Equatable {
    /// Picks the handler, e.g. `slack.post`, `diagnose`, `selftest`.
    public var kind: String
    /// JSON the handler decodes.
    public var payload: String
    /// When set, a second job with the same key is not enqueued (webhook redeliveries, retries).
    public var dedupKey: String?
    /// Not before this time; `nil` means now.
    public var runAt: Date?
    /// Overrides the store's default.
    public var maxAttempts: Int?

    public init(kind: String, payload: String, dedupKey: String? = nil, runAt: Date? = nil, maxAttempts: Int? = nil) {
        self.kind = kind
        self.payload = payload
        self.dedupKey = dedupKey
        self.runAt = runAt
        self.maxAttempts = maxAttempts
    }
}

/// A job as stored, for listing and inspection.
public struct JobRecord: Sendable, Equatable, Codable {
    public var id: JobID
    public var kind: String
    public var payload: String
    public var dedupKey: String?
    public var state: JobState
    public var attempts: Int
    public var maxAttempts: Int
    public var runAt: Date
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var lastError: String?
    public var result: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
}

/// A job a worker owns until `expiresAt`; the token fences out a worker whose lease was taken over.
public struct LeasedJob: Sendable, Equatable {
    public var id: JobID
    public var kind: String
    public var payload: String
    /// 1 for the first run.
    public var attempt: Int
    public var maxAttempts: Int
    public var owner: String
    public var token: Int64
    public var expiresAt: Date
    /// Where the job was queued from (``ChangeSet/origin``).
    public var origin: WorkOrigin? = nil
}

/// One attempt at a job, kept so an operator can see what happened to it (and tests can count runs).
public struct JobRun: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable {
        case done, failed, abandoned, released
    }

    public var id: Int64
    public var jobID: JobID
    public var attempt: Int
    public var worker: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// `nil` while it runs (or if its worker died and nobody has taken the job over yet).
    public var outcome: Outcome?
    public var error: String?
}

/// A lease taken back at start from a process that is gone, before the lease expired.
public struct ReclaimedLease: Sendable, Equatable {
    public var jobID: JobID
    public var owner: LeaseOwner
    /// Out of attempts: dead-lettered instead of queued again.
    public var deadLettered: Bool

    public init(jobID: JobID, owner: LeaseOwner, deadLettered: Bool) {
        self.jobID = jobID
        self.owner = owner
        self.deadLettered = deadLettered
    }
}

/// What happened to a failed attempt.
public enum FailureDisposition: Sendable, Equatable {
    case willRetry(at: Date)
    case deadLettered
    /// The lease had been taken over; this worker's result was discarded.
    case leaseLost
}

/// Counts of jobs by state, plus how late the oldest due job is.
public struct JobStats: Sendable, Equatable {
    public var counts: [JobState: Int]
    /// Seconds the oldest due queued job has waited past its `run_at` (0 when none is due).
    public var oldestDueAge: Double
}
