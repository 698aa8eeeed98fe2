import Foundation
import HelpdeskCore
import Logging
import PostgresNIO

/// The job queue of ``PostgresStore``, shared by every replica: `lease` takes rows with
/// `FOR UPDATE SKIP LOCKED`, so replicas leasing at once never get the same job, and every other
/// change is conditional on the lease token, so a worker whose job was taken over changes nothing.
///
/// Statements lock a `jobs` row before its `job_runs` row, always, so two transactions never wait
/// on each other in opposite orders.
struct PostgresJobQueue: JobQueue {
    let store: PostgresStore

    func lease(owner: String, limit: Int, duration: Duration, now: Date) async throws -> [LeasedJob] {
        guard limit > 0 else { return [] }
        let store = store
        let seconds = now.timeIntervalSince1970
        // Skip the transaction when nothing is due: idle polling by every replica must stay a cheap read.
        let anyDue = try await store.read { connection in
            try await connection.row("""
                SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND run_at <= \(seconds))
                    OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND lease_expires_at <= \(seconds)) AS due
                """, store.logger)?["due"].decode(Bool.self) ?? false
        }
        guard anyDue else { return [] }
        let expiresAt = now.addingTimeInterval(duration.seconds).timeIntervalSince1970
        return try await store.transaction { connection -> [LeasedJob] in
            try await Self.reapExpiredLeases(connection, now: seconds, logger: store.logger)
            // One statement: lock the due rows no other replica holds, open a run for each (its id is the
            // lease token), and hand the job to `owner`. A running job taken over has its old run closed here
            // too, in case another replica's reap skipped it while its row was locked.
            let rows = try await connection.rows("""
                WITH picked AS (
                    SELECT id, attempts, lease_token FROM jobs
                    WHERE (state = 'queued' AND run_at <= \(seconds))
                        OR (state = 'running' AND lease_expires_at <= \(seconds) AND attempts < max_attempts)
                    ORDER BY run_at, id LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                ), abandoned AS (
                    UPDATE job_runs SET outcome = 'abandoned', finished_at = \(seconds),
                        error = 'lease expired: the worker stopped or lost the store'
                    WHERE outcome IS NULL AND id IN (SELECT lease_token FROM picked)
                ), runs AS (
                    INSERT INTO job_runs (job_id, attempt, worker, started_at)
                    SELECT id, attempts + 1, \(owner), \(seconds) FROM picked
                    RETURNING id AS token, job_id
                )
                UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_owner = \(owner),
                    lease_token = runs.token, lease_expires_at = \(expiresAt), updated_at = \(seconds)
                FROM runs WHERE jobs.id = runs.job_id
                RETURNING jobs.id, jobs.kind, jobs.payload, jobs.attempts, jobs.max_attempts, jobs.run_at,
                    jobs.lease_token, jobs.origin
                """, store.logger)
            var picked: [(runAt: Double, job: LeasedJob)] = []
            for row in rows {
                let job = LeasedJob(
                    id: try row["id"].decode(Int64.self), kind: try row["kind"].decode(String.self),
                    payload: try row["payload"].decode(String.self), attempt: try row["attempts"].decode(Int.self),
                    maxAttempts: try row["max_attempts"].decode(Int.self), owner: owner,
                    token: try row["lease_token"].decode(Int64.self), expiresAt: Date(timeIntervalSince1970: expiresAt),
                    origin: WorkOrigin(storedText: try row["origin"].decode(String?.self)))
                picked.append((runAt: try row["run_at"].decode(Double.self), job: job))
            }
            // RETURNING has no order: hand the jobs out oldest first, as they were picked.
            return picked.sorted { ($0.runAt, $0.job.id) < ($1.runAt, $1.job.id) }.map(\.job)
        }
    }

    /// Closes the runs of workers that stopped renewing, and dead-letters jobs that used up their
    /// attempts that way (a job that kills its worker every time must not loop forever). Rows another
    /// replica holds are skipped: that replica is reaping or leasing them. Only rows with something
    /// left to do are locked, so expired jobs already reaped stay free for the other replicas' leases.
    private static func reapExpiredLeases(_ connection: PostgresConnection, now: Double, logger: Logger) async throws {
        try await connection.run("""
            WITH expired AS (
                SELECT id, lease_token, attempts, max_attempts FROM jobs
                WHERE state = 'running' AND lease_expires_at <= \(now)
                    AND (attempts >= max_attempts
                        OR EXISTS (SELECT 1 FROM job_runs
                                   WHERE job_runs.id = jobs.lease_token AND job_runs.outcome IS NULL))
                FOR UPDATE SKIP LOCKED
            ), abandoned AS (
                UPDATE job_runs SET outcome = 'abandoned', finished_at = \(now),
                    error = 'lease expired: the worker stopped or lost the store'
                WHERE outcome IS NULL AND id IN (SELECT lease_token FROM expired)
            )
            UPDATE jobs SET state = 'dead', finished_at = \(now), updated_at = \(now),
                last_error = 'lease expired on its last attempt: the worker running it stopped '
                    || jobs.attempts::text || ' time(s)',
                lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
            FROM expired WHERE jobs.id = expired.id AND expired.attempts >= expired.max_attempts
            """, logger)
    }

    func renew(_ job: LeasedJob, until: Date) async throws -> Bool {
        let store = store
        return try await store.transaction { connection in
            try await connection.row("""
                UPDATE jobs SET lease_expires_at = \(until.timeIntervalSince1970)
                WHERE id = \(job.id) AND lease_token = \(job.token) AND state = 'running' RETURNING id
                """, store.logger) != nil
        }
    }

    func complete(_ job: LeasedJob, result: String?, followUp: ChangeSet, now: Date) async throws -> Bool {
        let store = store
        let seconds = now.timeIntervalSince1970
        let (completed, outcome) = try await store.transaction { connection -> (Bool, ChangeSetOutcome?) in
            let done = try await connection.row("""
                WITH done AS (
                    UPDATE jobs SET state = 'done', result = \(result), finished_at = \(seconds),
                        updated_at = \(seconds), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                    WHERE id = \(job.id) AND lease_token = \(job.token) AND state = 'running' RETURNING id
                ), closed AS (
                    UPDATE job_runs SET outcome = 'done', error = NULL, finished_at = \(seconds)
                    WHERE id = \(job.token) AND EXISTS (SELECT 1 FROM done)
                )
                SELECT EXISTS (SELECT 1 FROM done) AS done
                """, store.logger)?["done"].decode(Bool.self) ?? false
            guard done else { return (false, nil) }
            // An empty follow-up writes nothing: skip it rather than take the locks `apply` may take.
            guard !followUp.isEmpty || followUp.notification != nil else { return (true, nil) }
            let outcome = try await PostgresChangeSets.apply(followUp, on: connection, now: now, store: store)
            return (true, outcome)
        }
        // After the commit, as `PostgresStore.apply` does: wake this replica's workers and outbox.
        if let outcome {
            if outcome.jobIDs.contains(where: { $0 != nil }) { store.workSignal.signal() }
            if !followUp.slackMessages.isEmpty || followUp.notification != nil { store.outboxSignal.signal() }
        }
        return completed
    }

    func fail(_ job: LeasedJob, error: String, retryAt: Date?, now: Date) async throws -> FailureDisposition {
        let store = store
        let seconds = now.timeIntervalSince1970
        let retry = retryAt.flatMap { job.attempt < job.maxAttempts ? $0 : nil }
        let state = retry == nil ? JobState.dead.rawValue : JobState.queued.rawValue
        let runAt = retry?.timeIntervalSince1970
        let finishedAt: Double? = retry == nil ? seconds : nil
        let failed = try await store.transaction { connection in
            try await connection.row("""
                WITH failed AS (
                    UPDATE jobs SET state = \(state), run_at = COALESCE(\(runAt)::double precision, run_at),
                        last_error = \(error), updated_at = \(seconds), finished_at = \(finishedAt)::double precision,
                        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                    WHERE id = \(job.id) AND lease_token = \(job.token) AND state = 'running' RETURNING id
                ), closed AS (
                    UPDATE job_runs SET outcome = 'failed', error = \(error), finished_at = \(seconds)
                    WHERE id = \(job.token) AND EXISTS (SELECT 1 FROM failed)
                )
                SELECT EXISTS (SELECT 1 FROM failed) AS failed
                """, store.logger)?["failed"].decode(Bool.self) ?? false
        }
        guard failed else { return .leaseLost }
        return retry.map { .willRetry(at: $0) } ?? .deadLettered
    }

    func release(_ job: LeasedJob, now: Date) async throws {
        let store = store
        let seconds = now.timeIntervalSince1970
        try await store.transaction { connection in
            try await connection.run("""
                WITH released AS (
                    UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_at = \(seconds),
                        updated_at = \(seconds), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                    WHERE id = \(job.id) AND lease_token = \(job.token) AND state = 'running' RETURNING id
                )
                UPDATE job_runs SET outcome = 'released', error = NULL, finished_at = \(seconds)
                WHERE id = \(job.token) AND EXISTS (SELECT 1 FROM released)
                """, store.logger)
        }
        store.workSignal.signal()
    }

    func retry(id: JobID, now: Date) async throws -> JobRecord {
        let store = store
        let seconds = now.timeIntervalSince1970
        let record = try await store.transaction { connection -> JobRecord in
            // Locked first, so the state judged is the state changed (a worker may be finishing it).
            guard let row = try await connection.row(
                "SELECT state FROM jobs WHERE id = \(id) FOR UPDATE", store.logger)
            else { throw StoreError.jobNotFound(id) }
            let state = JobState(rawValue: try row["state"].decode(String.self)) ?? .dead
            guard state == .dead || state == .queued else { throw StoreError.jobNotRetryable(id, state: state) }
            guard let updated = try await connection.row("""
                UPDATE jobs SET state = 'queued', attempts = 0, run_at = \(seconds), finished_at = NULL,
                    updated_at = \(seconds)
                WHERE id = \(id) RETURNING \(unescaped: Self.columns)
                """, store.logger)
            else { throw StoreError.jobNotFound(id) }
            return try Self.record(updated)
        }
        store.workSignal.signal()
        return record
    }

    func job(id: JobID) async throws -> JobRecord? {
        let store = store
        return try await store.read { connection in
            try await connection.row("SELECT \(unescaped: Self.columns) FROM jobs WHERE id = \(id)", store.logger)
                .map(Self.record)
        }
    }

    func list(state: JobState?, limit: Int) async throws -> [JobRecord] {
        let store = store
        return try await store.read { connection -> [JobRecord] in
            let query: PostgresQuery = if let state {
                """
                SELECT \(unescaped: Self.columns) FROM jobs WHERE state = \(state.rawValue)
                ORDER BY id DESC LIMIT \(limit)
                """
            } else {
                "SELECT \(unescaped: Self.columns) FROM jobs ORDER BY id DESC LIMIT \(limit)"
            }
            return try await connection.rows(query, store.logger).map(Self.record)
        }
    }

    func runs(jobID: JobID) async throws -> [JobRun] {
        let store = store
        return try await store.read { connection in
            try await connection.rows("""
                SELECT id, job_id, attempt, worker, started_at, finished_at, outcome, error
                FROM job_runs WHERE job_id = \(jobID) ORDER BY id
                """, store.logger).map { row in
                JobRun(id: try row["id"].decode(Int64.self), jobID: try row["job_id"].decode(Int64.self),
                       attempt: try row["attempt"].decode(Int.self), worker: try row["worker"].decode(String.self),
                       startedAt: Date(timeIntervalSince1970: try row["started_at"].decode(Double.self)),
                       finishedAt: try row["finished_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
                       outcome: try row["outcome"].decode(String?.self).flatMap(JobRun.Outcome.init(rawValue:)),
                       error: try row["error"].decode(String?.self))
            }
        }
    }

    func stats(now: Date) async throws -> JobStats {
        let store = store
        let seconds = now.timeIntervalSince1970
        return try await store.read { connection -> JobStats in
            // One round trip: the counts, and with the queued count the oldest due run time.
            let rows = try await connection.rows("""
                SELECT state, COUNT(*) AS n, MIN(run_at) FILTER (WHERE run_at <= \(seconds)) AS oldest
                FROM jobs GROUP BY state
                """, store.logger)
            var counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
            var oldest: Double?
            for row in rows {
                guard let state = JobState(rawValue: try row["state"].decode(String.self)) else { continue }
                counts[state] = try row["n"].decode(Int.self)
                if state == .queued { oldest = try row["oldest"].decode(Double?.self) }
            }
            return JobStats(counts: counts, oldestDueAge: oldest.map { max(0, seconds - $0) } ?? 0)
        }
    }

    func waitForWork(timeout: Duration) async {
        await store.workSignal.wait(timeout: timeout)
    }

    /// The columns ``record(_:)`` reads.
    static let columns = """
        id, kind, payload, dedup_key, state, attempts, max_attempts, run_at, lease_owner, lease_expires_at,
        last_error, result, created_at, updated_at, finished_at
        """

    static func record(_ row: PostgresRandomAccessRow) throws -> JobRecord {
        JobRecord(
            id: try row["id"].decode(Int64.self), kind: try row["kind"].decode(String.self),
            payload: try row["payload"].decode(String.self), dedupKey: try row["dedup_key"].decode(String?.self),
            state: JobState(rawValue: try row["state"].decode(String.self)) ?? .dead,
            attempts: try row["attempts"].decode(Int.self), maxAttempts: try row["max_attempts"].decode(Int.self),
            runAt: Date(timeIntervalSince1970: try row["run_at"].decode(Double.self)),
            leaseOwner: try row["lease_owner"].decode(String?.self),
            leaseExpiresAt: try row["lease_expires_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            lastError: try row["last_error"].decode(String?.self), result: try row["result"].decode(String?.self),
            createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
            updatedAt: Date(timeIntervalSince1970: try row["updated_at"].decode(Double.self)),
            finishedAt: try row["finished_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)))
    }
}
