import Foundation
import GRDB

/// Progress marks of ``SQLiteStore``: written inside the change set's transaction, read by primary key.
struct SQLiteProgress: ProgressStore {
    let store: SQLiteStore

    /// Upserts `marks` inside the writer's transaction (see `SQLiteStore.apply(_:in:now:defaultMaxAttempts:)`).
    static func set(_ marks: [ProgressMark], in db: Database, now: Date) throws {
        for mark in marks {
            if let expected = mark.expected {
                let found = try Int64.fetchOne(db.cachedStatement(sql: "SELECT position FROM progress_marks WHERE name = ?"),
                                               arguments: [mark.name]) ?? 0
                guard found == expected else { throw StoreError.markMoved(name: mark.name, expected: expected, found: found) }
                try db.run("""
                    INSERT INTO progress_marks (name, position, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at
                    """, [mark.name, mark.position, now.timeIntervalSince1970])
                continue
            }
            try db.run("""
                INSERT INTO progress_marks (name, position, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at
                WHERE progress_marks.position < excluded.position
                """, [mark.name, mark.position, now.timeIntervalSince1970])
        }
    }

    func position(_ name: String) async throws -> Int64? {
        try await store.database.read { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT position FROM progress_marks WHERE name = ?"), arguments: [name])
        }
    }
}
