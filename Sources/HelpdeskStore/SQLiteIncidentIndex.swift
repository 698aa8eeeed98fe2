import Foundation
import GRDB

/// The incident index of ``SQLiteStore``.
struct SQLiteIncidentIndex: IncidentIndex {
    let store: SQLiteStore

    func list(limit: Int) async throws -> [IncidentRecord] {
        try await store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM incidents ORDER BY created_at DESC, id DESC LIMIT ?", arguments: [limit]).map(Self.record)
        }
    }

    func incident(id: String) async throws -> IncidentRecord? {
        try await store.database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM incidents WHERE id = ?", arguments: [id]).map(Self.record)
        }
    }

    /// In batches: a write holds the writer (and, with its savepoint journal in memory, the pages it frees)
    /// while it runs, and a first prune after a long pause may find thousands of stored bundles.
    func removeOlder(than cutoff: Date) async throws -> [IncidentRecord] {
        let oldest = "SELECT id FROM incidents WHERE created_at < :cutoff ORDER BY created_at, id LIMIT :limit"
        let arguments: StatementArguments = ["cutoff": cutoff.timeIntervalSince1970, "limit": Self.removalBatch]
        var removed: [IncidentRecord] = []
        while true {
            let batch: [IncidentRecord]
            do {
                batch = try await store.writer.write { db in
                    let old = try Row.fetchAll(db, sql: "SELECT * FROM incidents WHERE id IN (\(oldest))", arguments: arguments).map(Self.record)
                    try db.execute(sql: "DELETE FROM incident_bundles WHERE incident_id IN (\(oldest))", arguments: arguments)
                    try db.execute(sql: "DELETE FROM incidents WHERE id IN (\(oldest))", arguments: arguments)
                    return old
                }
            } catch {
                // Earlier batches are gone from the index: their files must still be deleted (the next prune
                // takes up the rest), so they are returned rather than lost with the error.
                if removed.isEmpty { throw error }
                return removed
            }
            removed += batch
            if batch.count < Self.removalBatch { return removed }
        }
    }

    static let removalBatch = 100

    func bundle(id: String) async throws -> Data? {
        try await store.database.read { db in
            try Data.fetchOne(db, sql: "SELECT content FROM incident_bundles WHERE incident_id = ?", arguments: [id])
        }
    }

    private static func record(_ row: Row) -> IncidentRecord {
        IncidentRecord(
            id: row["id"], createdAt: Date(timeIntervalSince1970: row["created_at"]), target: row["target"], trigger: row["trigger"],
            summary: row["summary"], severity: row["severity"], findingCount: row["finding_count"],
            bundlePath: row["bundle_path"], bundleBytes: row["bundle_bytes"])
    }
}
