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

    func removeOlder(than cutoff: Date) async throws -> [IncidentRecord] {
        try await store.writer.write { db in
            let old = try Row.fetchAll(db, sql: "SELECT * FROM incidents WHERE created_at < ?", arguments: [cutoff.timeIntervalSince1970])
                .map(Self.record)
            try db.execute(sql: "DELETE FROM incident_bundles WHERE incident_id IN (SELECT id FROM incidents WHERE created_at < ?)",
                           arguments: [cutoff.timeIntervalSince1970])
            try db.execute(sql: "DELETE FROM incidents WHERE created_at < ?", arguments: [cutoff.timeIntervalSince1970])
            return old
        }
    }

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
