import Foundation
import GRDB
@testable import HelpdeskStore
import HelpdeskTestSupport
import Synchronization
import Testing

/// `helpdesk migrate` and the start-up check: what opening the store does to its schema, and when
/// it refuses.
@Suite struct StoreMigrationTests {
    /// A store whose schema stops one migration short of this binary's.
    private func storeOneMigrationBehind(at path: String) throws -> (applied: [String], pending: String) {
        let known = SQLiteStore.knownMigrations
        let queue = try DatabaseQueue(path: path)
        try SQLiteMigrations.migrator.migrate(queue, upTo: known[known.count - 2])
        try queue.close()
        return (Array(known.dropLast()), known[known.count - 1])
    }

    @Test func migrateBringsAnEmptyStoreToTheLatestSchemaOnce() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        let first = try SQLiteStore(options: .init(path: path))
        #expect(first.migration.before.version == 0)
        #expect(first.migration.before.versionDescription == "0 (empty)")
        #expect(first.migration.applied == SQLiteStore.knownMigrations)
        #expect(first.migration.after.isCurrent)
        try await first.close()
        let second = try SQLiteStore(options: .init(path: path, migrateOnOpen: false))
        #expect(second.migration.applied.isEmpty)
        #expect(second.migration.before == second.migration.after)
        #expect(second.migration.after.version == SQLiteStore.knownMigrations.count)
        try await second.close()
    }

    @Test func storeBehindTheBinaryIsRefusedWhenMigrateOnStartIsOff() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        let (applied, pending) = try storeOneMigrationBehind(at: path)
        let refusal = StoreError.olderSchema(path: path, version: applied.count, latest: applied.count + 1, pending: [pending])
        #expect(throws: refusal) { try SQLiteStore(options: .init(path: path, migrateOnOpen: false)) }
        #expect(refusal.description.contains("store.migrate_on_start is false"))
        #expect(refusal.description.contains("run `helpdesk migrate`"))

        // What `helpdesk migrate` does: open with migrations on, and say from where to where.
        let store = try SQLiteStore(options: .init(path: path, migrateOnOpen: true))
        #expect(store.migration.before.version == applied.count)
        #expect(store.migration.applied == [pending])
        #expect(await store.unhealthyReason() == nil)
        try await store.close()
        try await SQLiteStore(options: .init(path: path, migrateOnOpen: false)).close()
    }

    @Test func anEmptyStoreIsRefusedWithoutMigrations() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("fresh.sqlite")
        let latest = SQLiteStore.knownMigrations.count
        #expect(throws: StoreError.olderSchema(path: path, version: 0, latest: latest, pending: SQLiteStore.knownMigrations)) {
            try SQLiteStore(options: .init(path: path, migrateOnOpen: false))
        }
    }

    @Test func storeFromANewerSchemaIsRefusedWhateverTheSetting() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        try await SQLiteStore(options: .init(path: path)).close()
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        }
        for migrate in [true, false] {
            #expect(throws: StoreError.newerSchema(path: path, unknownMigrations: ["v99-from-the-future"])) {
                try SQLiteStore(options: .init(path: path, migrateOnOpen: migrate))
            }
        }
    }

    @Test func commandsBuildANewStoreButRefuseAnOlderOne() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let fresh = folder.file("fresh.sqlite")
        let built = try SQLiteStore(options: .init(path: fresh, migrateOnOpen: false, initializeEmpty: true))
        #expect(built.migration.after.isCurrent)
        try await built.close()

        let path = folder.file("hd.sqlite")
        let (applied, pending) = try storeOneMigrationBehind(at: path)
        let refusal = StoreError.olderSchema(path: path, version: applied.count, latest: applied.count + 1, pending: [pending])
        #expect(throws: refusal) { try SQLiteStore(options: .init(path: path, migrateOnOpen: false, initializeEmpty: true)) }
        #expect(refusal.description.contains("run `helpdesk migrate`"))
    }

    @Test func openingSaysWhereItMigratesFromBeforeItStarts() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        let (applied, pending) = try storeOneMigrationBehind(at: path)
        let announced = Mutex<[SchemaStatus]>([])
        let store = try SQLiteStore(options: .init(path: path, willMigrate: { before in announced.withLock { $0.append(before) } }))
        #expect(announced.withLock { $0.map(\.applied) } == [applied])
        #expect(store.migration.applied == [pending])
        try await store.close()
        try await SQLiteStore(options: .init(path: path, willMigrate: { _ in Issue.record("nothing is pending") })).close()
    }

    @Test func migrateAppliesThePendingMigrationsAfterSayingSo() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        let (applied, pending) = try storeOneMigrationBehind(at: path)
        var announced: [SchemaStatus] = []
        let report = try SQLiteStore.migrate(path: path) { announced.append($0) }
        #expect(announced.map(\.version) == [applied.count])
        #expect(report.applied == [pending])
        #expect(report.after.isCurrent)
        let again = try SQLiteStore.migrate(path: path) { _ in Issue.record("nothing is pending") }
        #expect(again.applied.isEmpty)
    }

    @Test func migrateIsRefusedWhileAnotherConnectionHasTheStoreOpen() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        _ = try storeOneMigrationBehind(at: path)
        let server = try SQLiteStore(options: .init(path: path))
        #expect(throws: StoreError.inUse(path: path)) {
            try SQLiteStore.migrate(path: path, busyTimeout: .milliseconds(100)) { _ in Issue.record("must not start") }
        }
        #expect(StoreError.inUse(path: path).description.contains("is `helpdesk serve` running?"))
        try await server.close()
        #expect(try SQLiteStore.migrate(path: path).after.isCurrent)
    }

    @Test func migrateWantsThreeTimesTheStoreFreeUnlessForced() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        let (_, pending) = try storeOneMigrationBehind(at: path)
        let tight = MigrationSpace(storeBytes: 700 << 20, available: 2000 << 20)
        #expect(tight.needed == 2100 << 20 && !tight.isEnough)
        let refusal = StoreError.notEnoughSpace(path: path, needed: tight.needed, available: tight.available)
        #expect(throws: refusal) {
            try SQLiteStore.migrate(path: path, space: tight) { _ in Issue.record("must not start") }
        }
        #expect(refusal.description.contains("2000 MB free") && refusal.description.contains("2100 MB"))
        #expect(refusal.description.contains("--force"))
        let forced = try SQLiteStore.migrate(path: path, checkSpace: false, space: tight)
        #expect(forced.applied == [pending])
    }

    @Test func theSpaceMeasuredCountsTheStoreAndItsLog() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("hd.sqlite", String(repeating: "s", count: 3000))
        try folder.write("hd.sqlite-wal", String(repeating: "w", count: 500))
        let measured = try #require(MigrationSpace.measure(store: path))
        #expect(measured.storeBytes == 3500)
        #expect(measured.available > 0)
        #expect(MigrationSpace.measure(store: folder.file("none.sqlite"))?.storeBytes == 0)
    }
}
