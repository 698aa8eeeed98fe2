import Foundation
import Logging
import PostgresNIO

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
