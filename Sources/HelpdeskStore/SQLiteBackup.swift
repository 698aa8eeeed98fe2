import Dispatch
import Foundation
import GRDB
import HelpdeskCore
import Synchronization

/// Online backups of the SQLite store through SQLite's backup API, consistent while a server writes.
///
/// The copy reads one snapshot on a read-only connection of its own. In WAL mode a reader never
/// blocks the writer, so the server keeps committing while the pages are copied (its log only grows
/// until the copy ends). The copy goes to a private file beside the target, passes
/// `PRAGMA integrity_check`, and is then renamed into place: a backup file is whole or absent.
///
/// ```swift
/// let result = try SQLiteBackup.backup(store: "/var/lib/helpdesk/helpdesk.sqlite", to: "/backups/hd.sqlite")
/// print(result.schema.versionDescription)   // 14 (v14-alert-groups)
/// ```
public enum SQLiteBackup {
    /// Pages copied per step (4 MiB at SQLite's default page size): a cancel is seen between steps.
    public static let defaultPagesPerStep: Int32 = 1024

    /// Copies the store at `storePath` to `destination` (mode 0600). Without `overwrite` an existing
    /// `destination` is refused, also one that appears while the copy runs.
    public static func backup(store storePath: String, to destination: String, overwrite: Bool = false,
                              pagesPerStep: Int32 = SQLiteBackup.defaultPagesPerStep,
                              isCancelled: @escaping @Sendable () -> Bool = { false }) throws(BackupError) -> BackupResult {
        guard FileManager.default.fileExists(atPath: storePath) else { throw .noStore(path: storePath) }
        if !overwrite, FileManager.default.fileExists(atPath: destination) { throw .exists(path: destination) }
        let temporary = try BackupFiles.createPrivateTemporary(beside: destination)
        do {
            let source: DatabaseQueue
            do {
                source = try DatabaseQueue(path: storePath, configuration: readOnlyConfiguration())
            } catch {
                throw BackupError.unreadable(path: storePath, reason: SQLiteStore.describe(error))
            }
            defer { try? source.close() }
            var schema = SchemaStatus(known: [], applied: [], unknown: [])
            try source.inDatabase { sourceDb in
                try sourceDb.inTransaction(.deferred) {
                    // The first read fixes the snapshot every step copies from; without it each step
                    // would read the newest commit, and SQLite restarts a copy whose source changed.
                    _ = try Int.fetchOne(sourceDb, sql: "SELECT count(*) FROM sqlite_master")
                    schema = try copy(from: sourceDb, to: temporary, check: true, pagesPerStep: pagesPerStep,
                                      isCancelled: isCancelled)
                    return .commit
                }
            }
            try BackupFiles.publish(temporary, as: destination, overwrite: overwrite)
            let attributes = try? FileManager.default.attributesOfItem(atPath: destination)
            let bytes = (attributes?[.size] as? NSNumber)?.intValue ?? 0
            return BackupResult(path: destination, bytes: bytes, schema: schema)
        } catch {
            BackupFiles.remove(temporary)
            if let error = error as? BackupError { throw error }
            throw .unwritable(path: destination, reason: SQLiteStore.describe(error))
        }
    }

    /// ``backup(store:to:overwrite:pagesPerStep:isCancelled:)`` on a thread of its own, so a long copy
    /// never holds a Swift concurrency thread; cancelling the task stops the copy at the next step.
    public static func backup(store storePath: String, to destination: String, overwrite: Bool = false,
                              pagesPerStep: Int32 = SQLiteBackup.defaultPagesPerStep)
                              async throws(BackupError) -> BackupResult {
        let cancelled = CancelFlag()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<BackupResult, BackupError>, Never>) in
                DispatchQueue.global(qos: .utility).async {
                    let outcome: Result<BackupResult, BackupError>
                    do throws(BackupError) {
                        outcome = .success(try SQLiteBackup.backup(store: storePath, to: destination, overwrite: overwrite,
                                                                   pagesPerStep: pagesPerStep, isCancelled: { cancelled.isSet }))
                    } catch {
                        outcome = .failure(error)
                    }
                    continuation.resume(returning: outcome)
                }
            }
        } onCancel: {
            cancelled.set()
        }
        return try result.get()
    }

    /// Copies the database open on `sourceDb` into the empty file at `path` as one file in rollback
    /// mode (it opens read-only anywhere, with no -wal beside it); returns the copy's schema.
    static func copy(from sourceDb: Database, to path: String, check: Bool,
                     pagesPerStep: Int32 = SQLiteBackup.defaultPagesPerStep,
                     isCancelled: @escaping @Sendable () -> Bool) throws -> SchemaStatus {
        let target = try DatabaseQueue(path: path, configuration: writableConfiguration())
        defer { try? target.close() }
        return try target.writeWithoutTransaction { targetDb in
            try sourceDb.backup(to: targetDb, pagesPerStep: pagesPerStep) { _ in
                if isCancelled() { throw BackupError.cancelled }
            }
            // The copied header says WAL when the store is in WAL mode: reading it switches this
            // connection to WAL, and leaving WAL writes rollback mode into the header.
            _ = try Int.fetchOne(targetDb, sql: "SELECT count(*) FROM sqlite_master")
            _ = try String.fetchOne(targetDb, sql: "PRAGMA journal_mode = DELETE")
            if check { try integrityCheck(targetDb, path: path) }
            return try SQLiteStore.schemaStatus(targetDb)
        }
    }

    static func integrityCheck(_ db: Database, path: String) throws {
        let problems = try String.fetchAll(db, sql: "PRAGMA integrity_check")
        guard problems == ["ok"] else { throw BackupError.damaged(path: path, problems: problems) }
    }

    /// Never writes the file it reads (a backup's source, a backup being checked).
    static func readOnlyConfiguration() -> Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        configuration.label = "helpdesk.backup.source"
        return configuration
    }

    static func writableConfiguration() -> Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "helpdesk.backup.target"
        return configuration
    }
}

/// Set from a task's cancellation handler, read between the steps of a copy on another thread.
final class CancelFlag: Sendable {
    private let state = Mutex(false)

    func set() { state.withLock { $0 = true } }

    var isSet: Bool { state.withLock { $0 } }
}
