import Foundation
import GRDB

struct SQLiteWebSessions: WebSessionStore {
    let store: SQLiteStore

    func end(sessionID: String, expiresAt: Date, now: Date) async throws {
        try await store.writer.write { db in
            try db.run("DELETE FROM web_sessions_ended WHERE expires_at < ?", [now.timeIntervalSince1970])
            try db.run("INSERT OR IGNORE INTO web_sessions_ended (session_id, expires_at) VALUES (?, ?)",
                       [sessionID, expiresAt.timeIntervalSince1970])
        }
    }

    func isEnded(sessionID: String) async throws -> Bool {
        try await store.database.read { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM web_sessions_ended WHERE session_id = ?)"),
                              arguments: [sessionID]) ?? false
        }
    }
}
