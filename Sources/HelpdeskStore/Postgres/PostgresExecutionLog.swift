import Foundation
import HelpdeskCore
import Logging
import PostgresNIO

/// Execution keys in ``PostgresStore``: the claim is one conditional insert, so two attempts racing
/// for a key (on one replica or on several) cannot both win.
struct PostgresExecutionLog: ExecutionLog {
    let store: PostgresStore

    func claim(key: String, principal: String, fingerprint: String?, now: Date) async throws -> ExecutionRecord? {
        let store = store
        return try await store.transaction { connection -> ExecutionRecord? in
            // A racing insert of the same key makes this one wait for its commit, then do nothing.
            let claimed = try await connection.row("""
                INSERT INTO executions (key, principal, fingerprint, state, created_at)
                VALUES (\(key), \(principal), \(fingerprint), 'running', \(now.timeIntervalSince1970))
                ON CONFLICT (key) DO NOTHING RETURNING key
                """, store.logger)
            if claimed != nil { return nil }
            // A statement of its own: only a new snapshot sees the winner's row (committed after ours began).
            return try await connection.row("""
                SELECT key, principal, state, approval_id, result, created_at, fingerprint
                FROM executions WHERE key = \(key)
                """, store.logger).map(Self.record)
        }
    }

    func finish(key: String, state: ExecutionRecord.State, approvalID: String?, result: JSONValue?,
                now: Date) async throws {
        let store = store
        try await store.transaction { connection in
            try await connection.run("""
                UPDATE executions SET state = \(state.rawValue), approval_id = \(approvalID),
                    result = \(result?.jsonText), finished_at = \(now.timeIntervalSince1970)
                WHERE key = \(key)
                """, store.logger)
        }
    }

    private static func record(_ row: PostgresRandomAccessRow) throws -> ExecutionRecord {
        ExecutionRecord(
            key: try row["key"].decode(String.self), principal: try row["principal"].decode(String.self),
            state: ExecutionRecord.State(rawValue: try row["state"].decode(String.self)) ?? .running,
            approvalID: try row["approval_id"].decode(String?.self),
            result: try row["result"].decode(String?.self).flatMap { try? JSONValue(parsing: $0) },
            createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
            fingerprint: try row["fingerprint"].decode(String?.self))
    }
}
