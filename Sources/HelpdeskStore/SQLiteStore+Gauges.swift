import Foundation
import GRDB

// The counts `/metrics` samples every few seconds: reads only, each over a partial index
// (slack_outbox_pending, storms_open), so their cost follows what is pending or open, not the tables.

extension SQLiteSlackOutbox {
    func pendingCount() async throws -> Int {
        try await store.database.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM slack_outbox WHERE state = 'pending'")) ?? 0
        }
    }
}

extension SQLiteStorms {
    func openCount() async throws -> Int {
        try await store.database.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM storms WHERE closed_at IS NULL")) ?? 0
        }
    }
}
