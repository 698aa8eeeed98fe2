import Foundation
import GRDB
import HelpdeskCore

/// The job queue of ``SQLiteStore``: every state change goes through the store's group-commit writer.
struct SQLiteJobQueue: JobQueue {
    let store: SQLiteStore

    func lease(owner: String, limit: Int, duration: Duration, now: Date) async throws -> [LeasedJob] {
        let nowSeconds = now.timeIntervalSince1970
        // Skip the write path entirely when nothing is due: idle polling must not take the write lock.
        let anyDue = try await store.database.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND run_at <= ?)
                    OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND lease_expires_at <= ?)
                """, arguments: [nowSeconds, nowSeconds]) ?? false
        }
        guard anyDue, limit > 0 else { return [] }
        let expiresAt = now.addingTimeInterval(duration.seconds)
        return try await store.writer.write { db in
            try Self.reapExpiredLeases(db, now: nowSeconds)
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, kind, payload, attempts, max_attempts, origin FROM jobs
                WHERE (state = 'queued' AND run_at <= :now) OR (state = 'running' AND lease_expires_at <= :now)
                ORDER BY run_at, id LIMIT :limit
                """, arguments: ["now": nowSeconds, "limit": limit])
            return try rows.map { row in
                let id: JobID = row["id"]
                let attempt: Int = row["attempts"] + 1
                try db.execute(
                    sql: "INSERT INTO job_runs (job_id, attempt, worker, started_at) VALUES (?, ?, ?, ?)",
                    arguments: [id, attempt, owner, nowSeconds])
                let token = db.lastInsertedRowID
                try db.execute(
                    sql: """
                        UPDATE jobs SET state = 'running', attempts = ?, lease_owner = ?, lease_token = ?,
                            lease_expires_at = ?, updated_at = ? WHERE id = ?
                        """,
                    arguments: [attempt, owner, token, expiresAt.timeIntervalSince1970, nowSeconds, id])
                return LeasedJob(id: id, kind: row["kind"], payload: row["payload"], attempt: attempt,
                                 maxAttempts: row["max_attempts"], owner: owner, token: token, expiresAt: expiresAt,
                                 origin: WorkOrigin(storedText: row["origin"]))
            }
        }
    }

    /// Closes the runs of workers that stopped renewing, and dead-letters jobs that used up their
    /// attempts that way (a job that kills its worker every time must not loop forever).
    private static func reapExpiredLeases(_ db: Database, now: Double) throws {
        try db.execute(sql: """
            UPDATE job_runs SET outcome = 'abandoned', finished_at = :now,
                error = 'lease expired: the worker stopped or lost the store'
            WHERE outcome IS NULL AND id IN (
                SELECT lease_token FROM jobs WHERE state = 'running' AND lease_expires_at <= :now)
            """, arguments: ["now": now])
        try db.execute(sql: """
            UPDATE jobs SET state = 'dead', finished_at = :now, updated_at = :now,
                last_error = 'lease expired on its last attempt: the worker running it stopped ' || attempts || ' time(s)',
                lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            WHERE state = 'running' AND lease_expires_at <= :now AND attempts >= max_attempts
            """, arguments: ["now": now])
    }

    func renew(_ job: LeasedJob, until: Date) async throws -> Bool {
        try await store.writer.write { db in
            try db.execute(
                sql: "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND state = 'running'",
                arguments: [until.timeIntervalSince1970, job.id, job.token])
            return db.changesCount == 1
        }
    }

    func complete(_ job: LeasedJob, result: String?, followUp: ChangeSet, now: Date) async throws -> Bool {
        let defaultMaxAttempts = store.defaultMaxAttempts
        let (completed, enqueued) = try await store.writer.write { db -> (Bool, Bool) in
            let seconds = now.timeIntervalSince1970
            try db.execute(
                sql: """
                    UPDATE jobs SET state = 'done', result = ?, finished_at = ?, updated_at = ?,
                        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                    WHERE id = ? AND lease_token = ? AND state = 'running'
                    """,
                arguments: [result, seconds, seconds, job.id, job.token])
            guard db.changesCount == 1 else { return (false, false) }
            try Self.closeRun(db, token: job.token, outcome: .done, error: nil, now: seconds)
            let outcome = try SQLiteStore.apply(followUp, in: db, now: now, defaultMaxAttempts: defaultMaxAttempts)
            return (true, outcome.jobIDs.contains { $0 != nil })
        }
        if enqueued { store.workSignal.signal() }
        return completed
    }

    func fail(_ job: LeasedJob, error: String, retryAt: Date?, now: Date) async throws -> FailureDisposition {
        try await store.writer.write { db in
            let seconds = now.timeIntervalSince1970
            let retry = retryAt.flatMap { job.attempt < job.maxAttempts ? $0 : nil }
            try db.execute(
                sql: """
                    UPDATE jobs SET state = ?, run_at = COALESCE(?, run_at), last_error = ?, updated_at = ?,
                        finished_at = ?, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                    WHERE id = ? AND lease_token = ? AND state = 'running'
                    """,
                arguments: [retry == nil ? JobState.dead.rawValue : JobState.queued.rawValue,
                            retry?.timeIntervalSince1970, error, seconds, retry == nil ? seconds : nil, job.id, job.token])
            guard db.changesCount == 1 else { return .leaseLost }
            try Self.closeRun(db, token: job.token, outcome: .failed, error: error, now: seconds)
            return retry.map { .willRetry(at: $0) } ?? .deadLettered
        }
    }

    func release(_ job: LeasedJob, now: Date) async throws {
        try await store.writer.write { db in
            let seconds = now.timeIntervalSince1970
            try db.execute(
                sql: """
                    UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_at = ?, updated_at = ?,
                        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                    WHERE id = ? AND lease_token = ? AND state = 'running'
                    """,
                arguments: [seconds, seconds, job.id, job.token])
            if db.changesCount == 1 {
                try Self.closeRun(db, token: job.token, outcome: .released, error: nil, now: seconds)
            }
        }
        store.workSignal.signal()
    }

    private static func closeRun(_ db: Database, token: Int64, outcome: JobRun.Outcome, error: String?, now: Double) throws {
        try db.execute(
            sql: "UPDATE job_runs SET outcome = ?, error = ?, finished_at = ? WHERE id = ?",
            arguments: [outcome.rawValue, error, now, token])
    }

    func retry(id: JobID, now: Date) async throws -> JobRecord {
        let record = try await store.writer.write { db -> JobRecord in
            let seconds = now.timeIntervalSince1970
            guard let current = try Self.fetchJob(db, id: id) else { throw StoreError.jobNotFound(id) }
            guard current.state == .dead || current.state == .queued else {
                throw StoreError.jobNotRetryable(id, state: current.state)
            }
            try db.execute(
                sql: "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?, finished_at = NULL, updated_at = ? WHERE id = ?",
                arguments: [seconds, seconds, id])
            return try Self.fetchJob(db, id: id)!
        }
        store.workSignal.signal()
        return record
    }

    func job(id: JobID) async throws -> JobRecord? {
        try await store.database.read { db in try Self.fetchJob(db, id: id) }
    }

    func list(state: JobState?, limit: Int) async throws -> [JobRecord] {
        try await store.database.read { db in
            let rows: [Row]
            if let state {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM jobs WHERE state = ? ORDER BY id DESC LIMIT ?", arguments: [state.rawValue, limit])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM jobs ORDER BY id DESC LIMIT ?", arguments: [limit])
            }
            return try rows.map(Self.record)
        }
    }

    func runs(jobID: JobID) async throws -> [JobRun] {
        try await store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM job_runs WHERE job_id = ? ORDER BY id", arguments: [jobID]).map { row in
                JobRun(id: row["id"], jobID: row["job_id"], attempt: row["attempt"], worker: row["worker"],
                       startedAt: Date(timeIntervalSince1970: row["started_at"]),
                       finishedAt: (row["finished_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                       outcome: (row["outcome"] as String?).flatMap(JobRun.Outcome.init(rawValue:)), error: row["error"])
            }
        }
    }

    func stats(now: Date) async throws -> JobStats {
        try await store.database.read { db in
            var counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
                if let state = JobState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            let oldest = try Double.fetchOne(db, sql: "SELECT MIN(run_at) FROM jobs WHERE state = 'queued' AND run_at <= ?",
                                             arguments: [now.timeIntervalSince1970])
            return JobStats(counts: counts, oldestDueAge: oldest.map { max(0, now.timeIntervalSince1970 - $0) } ?? 0)
        }
    }

    func waitForWork(timeout: Duration) async {
        await store.workSignal.wait(timeout: timeout)
    }

    private static func fetchJob(_ db: Database, id: JobID) throws -> JobRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id]).map(record)
    }

    private static func record(_ row: Row) throws -> JobRecord {
        JobRecord(
            id: row["id"], kind: row["kind"], payload: row["payload"], dedupKey: row["dedup_key"],
            state: JobState(rawValue: row["state"]) ?? .dead, attempts: row["attempts"], maxAttempts: row["max_attempts"],
            runAt: Date(timeIntervalSince1970: row["run_at"]), leaseOwner: row["lease_owner"],
            leaseExpiresAt: (row["lease_expires_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            lastError: row["last_error"], result: row["result"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]), updatedAt: Date(timeIntervalSince1970: row["updated_at"]),
            finishedAt: (row["finished_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }
}
