import Foundation
import GRDB
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// What only the SQLite file has: its folder and WAL mode, its migration table, its single writer's
/// group commits. What every store does is in StoreTests, on SQLite and PostgreSQL.
@Suite struct SQLiteStoreTests {
    @Test func freshFileIsCreatedWithItsFolderInWALMode() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("nested/state/helpdesk.sqlite")
        let store = try SQLiteStore(options: .init(path: path))
        #expect(await store.unhealthyReason() == nil)
        try await store.close()
        #expect(FileManager.default.fileExists(atPath: path))
        let mode = try await DatabaseQueue(path: path).read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func fileFromANewerVersionIsRefused() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("helpdesk.sqlite")
        try await SQLiteStore(options: .init(path: path)).close()
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        }
        #expect(throws: StoreError.newerSchema(path: path, unknownMigrations: ["v99-from-the-future"])) {
            try SQLiteStore(options: .init(path: path))
        }
    }

    @Test func unwritableLocationIsExplained() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let blocker = try folder.write("file", "not a folder")
        do {
            _ = try SQLiteStore(options: .init(path: blocker + "/sub/helpdesk.sqlite"))
            Issue.record("opening under a regular file should fail")
        } catch let error as StoreError {
            guard case .cannotOpen(_, let reason) = error else { Issue.record("unexpected \(error)"); return }
            #expect(reason.contains("cannot create the folder"))
        }
    }

    @Test func concurrentWritesShareCommits() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        let writes = 2000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<writes {
                group.addTask { try await store.apply(ChangeSet(jobs: [NewJob(kind: "bulk", payload: "{\"n\":\(index)}")])) }
            }
            try await group.waitForAll()
        }
        let counters = store.writeCounters
        #expect(counters.writes == writes)
        #expect(counters.commits < writes, "group commit should put several writes in one transaction")
        #expect(try await store.jobs.stats(now: Date()).counts[.queued] == writes)
        try await store.close()
    }
}
