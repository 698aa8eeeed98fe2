import Foundation

/// Web channel sessions signed out before their cookie expires. A signed cookie cannot be recalled:
/// sign-out writes its session id here, and every replica refuses that id until it would have expired.
public protocol WebSessionStore: Sendable {
    /// Ends `sessionID` (kept until `expiresAt`, when its cookie stops counting anyway); prunes ended
    /// sessions whose cookies expired before `now`, so the table holds only the sign-outs of one TTL.
    func end(sessionID: String, expiresAt: Date, now: Date) async throws
    func isEnded(sessionID: String) async throws -> Bool
}

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

struct PostgresWebSessions: WebSessionStore {
    let store: PostgresStore

    func end(sessionID: String, expiresAt: Date, now: Date) async throws {
        let logger = store.logger
        try await store.transaction { connection -> Void in
            try await connection.run("DELETE FROM web_sessions_ended WHERE expires_at < \(now.timeIntervalSince1970)", logger)
            try await connection.run("""
                INSERT INTO web_sessions_ended (session_id, expires_at) VALUES (\(sessionID), \(expiresAt.timeIntervalSince1970))
                ON CONFLICT DO NOTHING
                """, logger)
        }
    }

    func isEnded(sessionID: String) async throws -> Bool {
        let logger = store.logger
        return try await store.read { connection in
            try await connection.row("SELECT EXISTS (SELECT 1 FROM web_sessions_ended WHERE session_id = \(sessionID)) AS found", logger)?["found"]
                .decode(Bool.self) ?? false
        }
    }
}
