import Foundation
import GRDB
import HelpdeskCore

extension SQLiteBackup {
    /// Checks a backup before it is restored: SQLite's integrity check, a schema this binary knows
    /// (an older one is fine: it is migrated like any store), and an audit chain that verifies under
    /// `keyring`.
    public static func verify(_ file: String, keyring: AuditKeyring) throws(BackupError) -> BackupVerification {
        guard FileManager.default.fileExists(atPath: file) else {
            throw .unreadable(path: file, reason: String(cString: strerror(ENOENT)))
        }
        do {
            let backup = try DatabaseQueue(path: file, configuration: readOnlyConfiguration())
            defer { try? backup.close() }
            return try backup.inDatabase { db in try verify(db, path: file, keyring: keyring) }
        } catch let error as BackupError {
            throw error
        } catch {
            throw .unreadable(path: file, reason: SQLiteStore.describe(error))
        }
    }

    static func verify(_ db: Database, path: String, keyring: AuditKeyring) throws -> BackupVerification {
        try integrityCheck(db, path: path)
        let schema = try SQLiteStore.schemaStatus(db)
        guard !schema.isNewer else { throw BackupError.newerSchema(path: path, unknownMigrations: schema.unknown) }
        guard schema.version > 0 else { throw BackupError.notAStore(path: path) }
        var events = 0
        if try db.tableExists("audit_events") {
            var walk = AuditChainWalk(keyring: keyring)
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM audit_events ORDER BY seq")
            while let row = try rows.next() {
                if let broken = walk.check(row) {
                    throw BackupError.auditBroken(path: path, seq: broken.brokenAt, problem: broken.problem ?? "the chain does not hold")
                }
            }
            events = walk.result.checked
        }
        return BackupVerification(path: path, schema: schema, auditEvents: events)
    }

    /// Replaces the store at `storePath` with the backup `file` through the backup API, so the
    /// store's log and index stay consistent (a file copy would not). Verifies the backup first,
    /// refuses while any other process has the store open, keeps the replaced store as
    /// `PATH.before-restore-<UTC time>`, and moves `checkpointFile` aside the same way: it seals the
    /// replaced log, which the restored one no longer reaches.
    public static func restore(from file: String, into storePath: String, keyring: AuditKeyring, checkpointFile: String?,
                               busyTimeout: Duration = .seconds(2), now: Date = Date()) throws(BackupError) -> RestoreResult {
        let verification = try verify(file, keyring: keyring)
        let suffix = ".before-restore-" + BackupFiles.stamp(now)
        let store = try openExclusively(storePath, busyTimeout: busyTimeout)
        defer { try? store.close() }
        do {
            var previousStore: String?
            var previousCheckpoint: String?
            try store.writeWithoutTransaction { db in
                if try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0 > 0 {
                    previousStore = try keepCopy(of: db, as: storePath + suffix)
                }
                let backup = try DatabaseQueue(path: file, configuration: readOnlyConfiguration())
                defer { try? backup.close() }
                try backup.inDatabase { backupDb in try backupDb.backup(to: db) }
                // The server opens the store in WAL mode anyway; a store restored into a new file starts there too.
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                try integrityCheck(db, path: storePath)
                if let checkpointFile, FileManager.default.fileExists(atPath: checkpointFile) {
                    try FileManager.default.moveItem(atPath: checkpointFile, toPath: checkpointFile + suffix)
                    previousCheckpoint = checkpointFile + suffix
                }
            }
            // Closing copies the log into the file while the lock is still held.
            try store.close()
            return RestoreResult(verification: verification, previousStore: previousStore, previousCheckpoint: previousCheckpoint)
        } catch let error as BackupError {
            throw error
        } catch {
            throw .unwritable(path: storePath, reason: SQLiteStore.describe(error))
        }
    }

    /// The store's current contents, copied through the backup API (its log included) to `path`.
    private static func keepCopy(of db: Database, as path: String) throws -> String {
        let temporary = try BackupFiles.createPrivateTemporary(beside: path)
        do {
            _ = try copy(from: db, to: temporary, check: false, isCancelled: { false })
            try BackupFiles.publish(temporary, as: path, overwrite: false)
            return path
        } catch {
            BackupFiles.remove(temporary)
            throw error
        }
    }

    /// A connection holding the store file's exclusive lock until it closes. Every connection in WAL
    /// mode holds a shared lock on the file for as long as it is open, so while a server (or any
    /// other helpdesk command) has the store open this fails with SQLITE_BUSY.
    static func openExclusively(_ path: String, busyTimeout: Duration) throws(BackupError) -> DatabaseQueue {
        // A store restored into a new place is private like one the server creates.
        try? SQLiteStore.prepareLocation(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout.seconds)
        configuration.label = "helpdesk.restore"
        configuration.prepareDatabase { db in
            // Before the first read, which then takes the exclusive lock instead of sharing the WAL index.
            try db.execute(sql: "PRAGMA locking_mode = EXCLUSIVE")
        }
        let store: DatabaseQueue
        do {
            store = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw lockError(error, path: path)
        }
        do {
            // A store in rollback mode is locked by its first write.
            try store.writeWithoutTransaction { db in try db.inTransaction(.exclusive) { .commit } }
            return store
        } catch {
            try? store.close()
            throw lockError(error, path: path)
        }
    }

    private static func lockError(_ error: any Error, path: String) -> BackupError {
        if let error = error as? DatabaseError, error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            return .inUse(path: path)
        }
        return .unwritable(path: path, reason: SQLiteStore.describe(error))
    }
}
