import Foundation
import HelpdeskCore
import Logging
import PostgresNIO

extension PostgresJobQueue {
    /// Finds this host's running leases, judges each owner, and takes back the orphaned ones, all in
    /// one transaction holding their rows, so a lease renewed or completed meanwhile cannot be taken
    /// back under its owner. Rows another transaction holds are skipped: they are left to expire.
    func reclaimOrphanedLeases(seenFrom current: LeaseOwner, isAlive: @escaping @Sendable (Int32) -> Bool,
                               now: Date) async throws -> [ReclaimedLease] {
        let store = store
        let seconds = now.timeIntervalSince1970
        let prefix = current.host + ":"
        let reclaimed = try await store.transaction { connection -> [ReclaimedLease] in
            let rows = try await connection.rows("""
                SELECT id, lease_owner, lease_token, attempts, max_attempts FROM jobs
                WHERE state = 'running' AND starts_with(lease_owner, \(prefix))
                FOR UPDATE SKIP LOCKED
                """, store.logger)
            var leases: [(id: JobID, token: Int64, owner: LeaseOwner, attempts: Int, maxAttempts: Int)] = []
            for row in rows {
                guard let text = try row["lease_owner"].decode(String?.self),
                      let token = try row["lease_token"].decode(Int64?.self),
                      let owner = LeaseOwner(parsing: text), owner.isOrphaned(seenFrom: current, isAlive: isAlive)
                else { continue }
                leases.append((id: try row["id"].decode(Int64.self), token: token, owner: owner,
                               attempts: try row["attempts"].decode(Int.self),
                               maxAttempts: try row["max_attempts"].decode(Int.self)))
            }
            var reclaimed: [ReclaimedLease] = []
            for lease in leases {
                let gone = "the process holding the lease (\(lease.owner.host):\(lease.owner.pid)) is gone"
                let deadLettered = lease.attempts >= lease.maxAttempts
                if deadLettered {
                    let error = "\(gone), on the job's last attempt (\(lease.attempts) of \(lease.maxAttempts))"
                    try await connection.run("""
                        WITH abandoned AS (
                            UPDATE job_runs SET outcome = 'abandoned', finished_at = \(seconds), error = \(gone)
                            WHERE id = \(lease.token) AND outcome IS NULL
                        )
                        UPDATE jobs SET state = 'dead', finished_at = \(seconds), updated_at = \(seconds),
                            last_error = \(error), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                        WHERE id = \(lease.id) AND lease_token = \(lease.token)
                        """, store.logger)
                } else {
                    // The attempt stays counted, as when a lease expires; the job keeps its place in line.
                    try await connection.run("""
                        WITH abandoned AS (
                            UPDATE job_runs SET outcome = 'abandoned', finished_at = \(seconds), error = \(gone)
                            WHERE id = \(lease.token) AND outcome IS NULL
                        )
                        UPDATE jobs SET state = 'queued', run_at = LEAST(run_at, \(seconds)), updated_at = \(seconds),
                            last_error = \(gone), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                        WHERE id = \(lease.id) AND lease_token = \(lease.token)
                        """, store.logger)
                }
                reclaimed.append(ReclaimedLease(jobID: lease.id, owner: lease.owner, deadLettered: deadLettered))
            }
            return reclaimed
        }
        if reclaimed.contains(where: { !$0.deadLettered }) { store.workSignal.signal() }
        return reclaimed
    }
}
