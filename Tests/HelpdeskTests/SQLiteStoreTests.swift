import Foundation
import GRDB
import HelpdeskStore
import HelpdeskTestSupport
import Testing

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

    @Test func existingFileKeepsItsDataAcrossReopen() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("helpdesk.sqlite")
        let first = try SQLiteStore(options: .init(path: path))
        let outcome = try await first.apply(ChangeSet(jobs: [NewJob(kind: "k", payload: "{}")]))
        try await first.close()
        let second = try SQLiteStore(options: .init(path: path))
        defer { Task { try? await second.close() } }
        let id = try #require(outcome.jobIDs.first ?? nil)
        #expect(try await second.jobs.job(id: id)?.kind == "k")
        #expect(await second.unhealthyReason() == nil)
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

    @Test func duplicateDedupKeyIsSkippedNotFailed() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        defer { Task { try? await store.close() } }
        let job = NewJob(kind: "slack.command", payload: "{}", dedupKey: "slack:trigger-1")
        let first = try await store.apply(ChangeSet(jobs: [job]))
        let again = try await store.apply(ChangeSet(jobs: [job, NewJob(kind: "other", payload: "{}")]))
        #expect(first.jobIDs.first! != nil)
        #expect(again.jobIDs.first! == nil)
        #expect(again.jobIDs.last! != nil)
        #expect(try await store.jobs.list(state: nil, limit: 10).count == 2)
    }

    @Test func writesAfterCloseFailClearly() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        try await store.close()
        await #expect(throws: StoreError.closed) {
            try await store.apply(ChangeSet(jobs: [NewJob(kind: "k", payload: "{}")]))
        }
    }
}
