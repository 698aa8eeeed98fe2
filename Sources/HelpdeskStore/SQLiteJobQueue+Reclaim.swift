import Foundation
import GRDB
import HelpdeskCore

extension SQLiteJobQueue {
    /// Finds this host's running leases, judges each owner, and takes back the orphaned ones, all in
    /// one write so a lease renewed or completed meanwhile cannot be taken back under its owner.
    func reclaimOrphanedLeases(seenFrom current: LeaseOwner, isAlive: @escaping @Sendable (Int32) -> Bool,
                               now: Date) async throws -> [ReclaimedLease] {
        let reclaimed = try await store.writer.write { db -> [ReclaimedLease] in
            let seconds = now.timeIntervalSince1970
            let prefix = current.host + ":"
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, lease_owner, lease_token, attempts, max_attempts FROM jobs
                WHERE state = 'running' AND substr(lease_owner, 1, length(:prefix)) = :prefix
                """, arguments: ["prefix": prefix])
            return try rows.compactMap { row -> ReclaimedLease? in
                guard let text: String = row["lease_owner"], let token: Int64 = row["lease_token"],
                      let owner = LeaseOwner(parsing: text), owner.isOrphaned(seenFrom: current, isAlive: isAlive)
                else { return nil }
                let id: JobID = row["id"]
                let attempts: Int = row["attempts"]
                let maxAttempts: Int = row["max_attempts"]
                let gone = "the process holding the lease (\(owner.host):\(owner.pid)) is gone"
                try db.execute(
                    sql: "UPDATE job_runs SET outcome = 'abandoned', finished_at = ?, error = ? WHERE id = ? AND outcome IS NULL",
                    arguments: [seconds, gone, token])
                let deadLettered = attempts >= maxAttempts
                if deadLettered {
                    try db.execute(
                        sql: """
                            UPDATE jobs SET state = 'dead', finished_at = :now, updated_at = :now, last_error = :error,
                                lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                            WHERE id = :id AND lease_token = :token
                            """,
                        arguments: ["now": seconds, "id": id, "token": token,
                                    "error": "\(gone), on the job's last attempt (\(attempts) of \(maxAttempts))"])
                } else {
                    // The attempt stays counted, as when a lease expires; the job keeps its place in line.
                    try db.execute(
                        sql: """
                            UPDATE jobs SET state = 'queued', run_at = MIN(run_at, :now), updated_at = :now,
                                last_error = :error, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                            WHERE id = :id AND lease_token = :token
                            """,
                        arguments: ["now": seconds, "id": id, "token": token, "error": gone])
                }
                return ReclaimedLease(jobID: id, owner: owner, deadLettered: deadLettered)
            }
        }
        if reclaimed.contains(where: { !$0.deadLettered }) { store.workSignal.signal() }
        return reclaimed
    }
}
