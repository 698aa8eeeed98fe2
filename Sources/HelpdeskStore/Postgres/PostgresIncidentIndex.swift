import Foundation
import Logging
import PostgresNIO

/// The incident index of ``PostgresStore``.
struct PostgresIncidentIndex: IncidentIndex {
    let store: PostgresStore

    func list(limit: Int) async throws -> [IncidentRecord] {
        let store = store
        return try await store.read { connection in
            try await connection.rows("""
                SELECT \(unescaped: Self.columns) FROM incidents ORDER BY created_at DESC, id DESC LIMIT \(limit)
                """, store.logger).map(Self.record)
        }
    }

    func incident(id: String) async throws -> IncidentRecord? {
        let store = store
        return try await store.read { connection in
            try await connection.row("SELECT \(unescaped: Self.columns) FROM incidents WHERE id = \(id)", store.logger)
                .map(Self.record)
        }
    }

    /// One `DELETE … RETURNING`: when two replicas prune at once, each entry comes back to exactly
    /// one of them, so its bundle files are deleted once. Bundles kept in the store go with their entry.
    func removeOlder(than cutoff: Date) async throws -> [IncidentRecord] {
        let store = store
        let removed = try await store.transaction { connection in
            try await connection.rows("""
                WITH gone AS (
                    DELETE FROM incidents WHERE created_at < \(cutoff.timeIntervalSince1970)
                    RETURNING \(unescaped: Self.columns)
                ), bundles AS (
                    DELETE FROM incident_bundles WHERE incident_id IN (SELECT id FROM gone)
                )
                SELECT \(unescaped: Self.columns) FROM gone
                """, store.logger).map(Self.record)
        }
        // RETURNING has no order; oldest first, close to SQLite's insertion order.
        return removed.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    func bundle(id: String) async throws -> Data? {
        let store = store
        return try await store.read { connection -> Data? in
            let row = try await connection.row(
                "SELECT content FROM incident_bundles WHERE incident_id = \(id)", store.logger)
            return try row?["content"].decode(Data.self)
        }
    }

    private static let columns =
        "id, created_at, target, trigger, summary, severity, finding_count, bundle_path, bundle_bytes"

    private static func record(_ row: PostgresRandomAccessRow) throws -> IncidentRecord {
        IncidentRecord(
            id: try row["id"].decode(String.self),
            createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
            target: try row["target"].decode(String.self), trigger: try row["trigger"].decode(String.self),
            summary: try row["summary"].decode(String.self), severity: try row["severity"].decode(String.self),
            findingCount: try row["finding_count"].decode(Int.self),
            bundlePath: try row["bundle_path"].decode(String.self),
            bundleBytes: try row["bundle_bytes"].decode(Int.self))
    }
}
