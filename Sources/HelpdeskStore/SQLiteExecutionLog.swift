import Foundation
import GRDB
import HelpdeskCore

/// Execution keys in ``SQLiteStore``: the claim is one insert through the group-commit writer, so
/// two attempts racing for a key cannot both win.
struct SQLiteExecutionLog: ExecutionLog {
    let store: SQLiteStore

    func claim(key: String, principal: String, fingerprint: String?, now: Date) async throws -> ExecutionRecord? {
        try await store.writer.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO executions (key, principal, fingerprint, state, created_at) VALUES (?, ?, ?, 'running', ?)",
                           arguments: [key, principal, fingerprint, now.timeIntervalSince1970])
            if db.changesCount == 1 { return nil }
            return try Row.fetchOne(db, sql: "SELECT * FROM executions WHERE key = ?", arguments: [key]).map(Self.record)
        }
    }

    func finish(key: String, state: ExecutionRecord.State, approvalID: String?, result: JSONValue?, now: Date) async throws {
        try await store.writer.write { db in
            try db.execute(sql: "UPDATE executions SET state = ?, approval_id = ?, result = ?, finished_at = ? WHERE key = ?",
                           arguments: [state.rawValue, approvalID, result?.jsonText, now.timeIntervalSince1970, key])
        }
    }

    private static func record(_ row: Row) -> ExecutionRecord {
        ExecutionRecord(key: row["key"], principal: row["principal"], state: ExecutionRecord.State(rawValue: row["state"]) ?? .running,
                        approvalID: row["approval_id"], result: (row["result"] as String?).flatMap { try? JSONValue(parsing: $0) },
                        createdAt: Date(timeIntervalSince1970: row["created_at"]), fingerprint: row["fingerprint"])
    }
}
