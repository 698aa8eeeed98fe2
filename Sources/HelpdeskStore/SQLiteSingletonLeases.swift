import Foundation
import GRDB
import HelpdeskCore

/// Singleton leases of ``SQLiteStore``: one server per file, so the lease is always granted (and
/// recorded) — a server restarted after a crash must not wait out its predecessor's lease.
struct SQLiteSingletonLeases: SingletonLeases {
    let store: SQLiteStore

    func acquire(_ name: String, owner: String, duration: Duration, now: Date) async throws -> Bool {
        let nowSeconds = now.timeIntervalSince1970
        let until = nowSeconds + duration.seconds
        return try await store.writer.write { db in
            try db.execute(sql: """
                INSERT INTO singleton_leases (name, owner, expires_at) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                """, arguments: [name, owner, until])
            return true
        }
    }

    func release(_ name: String, owner: String) async throws {
        try await store.writer.write { db in
            try db.execute(sql: "DELETE FROM singleton_leases WHERE name = ? AND owner = ?", arguments: [name, owner])
        }
    }
}
