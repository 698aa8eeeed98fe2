import Foundation
import HelpdeskCore
import PostgresNIO

/// Singleton leases of ``PostgresStore``: one upsert decides, so two replicas asking at once
/// cannot both win.
struct PostgresSingletonLeases: SingletonLeases {
    let store: PostgresStore

    func acquire(_ name: String, owner: String, duration: Duration, now: Date) async throws -> Bool {
        let nowSeconds = now.timeIntervalSince1970
        let until = nowSeconds + duration.seconds
        let logger = store.logger
        return try await store.transaction { connection in
            try await connection.row("""
                INSERT INTO singleton_leases (name, owner, expires_at) VALUES (\(name), \(owner), \(until))
                ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                WHERE singleton_leases.owner = excluded.owner OR singleton_leases.expires_at <= \(nowSeconds)
                RETURNING name
                """, logger) != nil
        }
    }

    func release(_ name: String, owner: String) async throws {
        let logger = store.logger
        try await store.transaction { connection in
            try await connection.run("DELETE FROM singleton_leases WHERE name = \(name) AND owner = \(owner)", logger)
        }
    }
}
