import Foundation
import GRDB
import HelpdeskCore

/// Singleton leases of ``SQLiteStore``. One server uses a file, but commands (`helpdesk secbot`,
/// `helpdesk govbot`) may open it beside the server: a lease held by another live process of this
/// host is refused until it expires. A lease whose holder is known to be gone is taken at once, so a
/// server restarted after a crash does not wait out its predecessor's lease: its pid no longer runs,
/// it is our own pid under another instance (a restarted container), or it is on another host (a
/// SQLite file is one host's: a pod rescheduled with a new name took the file over).
struct SQLiteSingletonLeases: SingletonLeases {
    let store: SQLiteStore

    func acquire(_ name: String, owner: String, duration: Duration, now: Date) async throws -> Bool {
        let nowSeconds = now.timeIntervalSince1970
        let until = nowSeconds + duration.seconds
        return try await store.writer.write { db in
            if let holder = try Row.fetchOne(db, sql: "SELECT owner, expires_at FROM singleton_leases WHERE name = ?", arguments: [name]) {
                let heldBy: String = holder["owner"]
                let expiresAt: Double = holder["expires_at"]
                let holderIsGone = LeaseOwner(parsing: heldBy).flatMap { held in
                    LeaseOwner(parsing: owner).map { held.host != $0.host || held.isOrphaned(seenFrom: $0, isAlive: LeaseOwner.processIsRunning) }
                } ?? false
                guard heldBy == owner || expiresAt <= nowSeconds || holderIsGone else { return false }
            }
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
