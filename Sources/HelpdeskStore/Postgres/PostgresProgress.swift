import Foundation
import Logging
import PostgresNIO

/// Progress marks of ``PostgresStore``: the twin of ``SQLiteProgress``.
struct PostgresProgress: ProgressStore {
    let store: PostgresStore

    /// Upserts `marks` inside the caller's transaction (see ``PostgresChangeSets``).
    static func set(_ marks: [ProgressMark], on connection: PostgresConnection, now: Date, logger: Logger) async throws {
        let seconds = now.timeIntervalSince1970
        for mark in marks {
            if let expected = mark.expected {
                // The row exists and is locked before it is read, so two transactions cannot both find `expected`.
                try await connection.run("""
                    INSERT INTO progress_marks (name, position, updated_at) VALUES (\(mark.name), 0, \(seconds))
                    ON CONFLICT (name) DO NOTHING
                    """, logger)
                let found = try await connection.row("SELECT position FROM progress_marks WHERE name = \(mark.name) FOR UPDATE", logger)
                    .map { try $0["position"].decode(Int64.self) } ?? 0
                guard found == expected else { throw StoreError.markMoved(name: mark.name, expected: expected, found: found) }
                try await connection.run("""
                    UPDATE progress_marks SET position = \(mark.position), updated_at = \(seconds) WHERE name = \(mark.name)
                    """, logger)
                continue
            }
            try await connection.run("""
                INSERT INTO progress_marks (name, position, updated_at) VALUES (\(mark.name), \(mark.position), \(seconds))
                ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at
                WHERE progress_marks.position < excluded.position
                """, logger)
        }
    }

    func position(_ name: String) async throws -> Int64? {
        let logger = store.logger
        return try await store.read { connection in
            try await connection.row("SELECT position FROM progress_marks WHERE name = \(name)", logger)
                .map { try $0["position"].decode(Int64.self) }
        }
    }
}
