import Foundation
import GRDB

extension SQLiteStore {
    /// What `helpdesk migrate` does: applies the pending migrations of the store at `path` on a
    /// connection that holds the file's exclusive lock from before it reads the schema until it is
    /// done. It refuses while any other process has the store open (a running server holds a lock
    /// for as long as it runs), and nothing else can open the store while it migrates.
    ///
    /// - Parameters:
    ///   - checkSpace: refuse when the store's folder has less free space than ``MigrationSpace``
    ///     asks for (`--force` turns it off).
    ///   - space: the room to assume, for tests; `nil` measures the store's folder.
    ///   - willMigrate: called before the first migration runs, with the schema it starts from.
    /// - Returns: the schema before and after; `applied` is empty when it was already current.
    ///
    /// ```swift
    /// let report = try SQLiteStore.migrate(path: "/var/lib/helpdesk/helpdesk.sqlite") { before in
    ///     print("migrating from \(before.versionDescription) to \(before.latestDescription)…")
    /// }
    /// ```
    public static func migrate(path: String, busyTimeout: Duration = .seconds(2), checkSpace: Bool = true,
                               space: MigrationSpace? = nil,
                               willMigrate: (SchemaStatus) -> Void = { _ in }) throws(StoreError) -> MigrationReport {
        try prepareLocation(path)
        let database: DatabaseQueue
        do {
            database = try SQLiteBackup.openExclusively(path, busyTimeout: busyTimeout)
        } catch BackupError.inUse {
            throw .inUse(path: path)
        } catch BackupError.unwritable(_, let reason) {
            throw .cannotOpen(path: path, reason: reason)
        } catch {
            throw .cannotOpen(path: path, reason: describe(error))
        }
        defer { try? database.close() }
        let before: SchemaStatus
        do {
            before = try database.read { db in try schemaStatus(db) }
        } catch {
            throw .cannotOpen(path: path, reason: describe(error))
        }
        guard !before.isNewer else { throw .newerSchema(path: path, unknownMigrations: before.unknown) }
        guard !before.isCurrent else { return MigrationReport(before: before, after: before) }
        if checkSpace, let measured = space ?? MigrationSpace.measure(store: path), !measured.isEnough {
            throw .notEnoughSpace(path: path, needed: measured.needed, available: measured.available)
        }
        willMigrate(before)
        do {
            try SQLiteMigrations.migrator.migrate(database)
            let after = try database.read { db in try schemaStatus(db) }
            // Closing copies the log into the file while the lock is still held.
            try database.close()
            return MigrationReport(before: before, after: after)
        } catch {
            throw .migrationFailed(path: path, reason: describe(error))
        }
    }
}
