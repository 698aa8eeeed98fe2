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
/// `PRAGMA integrity_check`, and is then renamed into place: a backup file is whole or absent. Its
/// ``BackupManifest`` goes beside it, which restore requires.
///
/// ```swift
/// let result = try SQLiteBackup.backup(store: "/var/lib/helpdesk/helpdesk.sqlite", to: "/backups/hd.sqlite")
/// print(result.schema.versionDescription)   // 14 (v14-alert-groups)
/// ```
public enum SQLiteBackup {
    /// Pages copied per step (4 MiB at SQLite's default page size): a cancel is seen between steps.
    public static let defaultPagesPerStep: Int32 = 1024

    /// Copies the store at `storePath` to `destination` (mode 0600), and writes its manifest
    /// (``BackupManifest``) beside it, sealed with `keyring`'s current key. Without `overwrite` an
    /// existing `destination` is refused, also one that appears while the copy runs; a live file of
    /// the store (itself, its -wal, -shm or -journal, `checkpointFile`) is refused always.
    public static func backup(store storePath: String, to destination: String, overwrite: Bool = false,
                              keyring: AuditKeyring = AuditKeyring(), checkpointFile: String? = nil,
                              pagesPerStep: Int32 = SQLiteBackup.defaultPagesPerStep,
                              isCancelled: @escaping @Sendable () -> Bool = { false }) throws(BackupError) -> BackupResult {
        guard FileManager.default.fileExists(atPath: storePath) else { throw .noStore(path: storePath) }
        for target in [destination, BackupManifest.path(for: destination)] {
            if let live = BackupFiles.liveFile(target, store: storePath, checkpointFile: checkpointFile) {
                throw .liveFile(path: target, live: live)
            }
        }
        if !overwrite, FileManager.default.fileExists(atPath: destination) { throw .exists(path: destination) }
        let temporary = try BackupFiles.createPrivateTemporary(beside: destination)
        var published = false
        do {
            let source: DatabaseQueue
            do {
                source = try DatabaseQueue(path: storePath, configuration: readOnlyConfiguration())
            } catch {
                throw BackupError.unreadable(path: storePath, reason: SQLiteStore.describe(error))
            }
            defer { try? source.close() }
            var copied = Copied(schema: SchemaStatus(known: [], applied: [], unknown: []), head: nil)
            try source.inDatabase { sourceDb in
                try sourceDb.inTransaction(.deferred) {
                    // The first read fixes the snapshot every step copies from; without it each step
                    // would read the newest commit, and SQLite restarts a copy whose source changed.
                    _ = try Int.fetchOne(sourceDb, sql: "SELECT count(*) FROM sqlite_master")
                    copied = try copy(from: sourceDb, to: temporary, check: true, pagesPerStep: pagesPerStep,
                                      isCancelled: isCancelled)
                    return .commit
                }
            }
            // Hashed once the copy is closed: the bytes a restore will read.
            let file = try BackupFiles.sha256(ofFile: temporary)
            let manifest = BackupManifest.seal(sha256: file.sha256, bytes: file.bytes, schema: copied.schema, head: copied.head,
                                               at: Date(), keyring: keyring)
            try BackupFiles.publish(temporary, as: destination, overwrite: overwrite)
            published = true
            try manifest.write(beside: destination)
            return BackupResult(path: destination, bytes: Int(file.bytes), schema: copied.schema, manifest: manifest)
        } catch {
            BackupFiles.remove(temporary)
            // A backup without its manifest would only be refused at restore.
            if published { try? BackupFiles.removeRegularFile(destination) }
            if let error = error as? BackupError { throw error }
            throw .unwritable(path: destination, reason: SQLiteStore.describe(error))
        }
    }

    /// ``backup(store:to:overwrite:keyring:checkpointFile:pagesPerStep:isCancelled:)`` on a thread of
    /// its own, so a long copy never holds a Swift concurrency thread; cancelling the task stops the
    /// copy at the next step.
    public static func backup(store storePath: String, to destination: String, overwrite: Bool = false,
                              keyring: AuditKeyring = AuditKeyring(), checkpointFile: String? = nil,
                              pagesPerStep: Int32 = SQLiteBackup.defaultPagesPerStep)
                              async throws(BackupError) -> BackupResult {
        let cancelled = CancelFlag()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<BackupResult, BackupError>, Never>) in
                DispatchQueue.global(qos: .utility).async {
                    let outcome: Result<BackupResult, BackupError>
                    do throws(BackupError) {
                        outcome = .success(try SQLiteBackup.backup(store: storePath, to: destination, overwrite: overwrite,
                                                                   keyring: keyring, checkpointFile: checkpointFile,
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

    /// A backup into `directory`, named by ``BackupFiles/name(store:at:kind:attempt:)``: another
    /// backup within the same second gets `-2`, `-3`, … instead of failing with "exists".
    public static func backup(store storePath: String, inFolder directory: String, kind: BackupKind, at date: Date,
                              keyring: AuditKeyring = AuditKeyring(), checkpointFile: String? = nil)
                              async throws(BackupError) -> BackupResult {
        var attempt = 1
        while true {
            let name = BackupFiles.name(store: storePath, at: date, kind: kind, attempt: attempt)
            let path = (directory as NSString).appendingPathComponent(name)
            do throws(BackupError) {
                return try await backup(store: storePath, to: path, keyring: keyring, checkpointFile: checkpointFile)
            } catch {
                guard case .exists(let existing) = error, existing == path, attempt < 99 else { throw error }
                attempt += 1
            }
        }
    }

    /// What a copy holds: its schema, and the last event of its audit log.
    struct Copied {
        var schema: SchemaStatus
        var head: AuditHead?
    }

    /// Copies the database open on `sourceDb` into the empty file at `path` as one file in rollback
    /// mode (it opens read-only anywhere, with no -wal beside it).
    @discardableResult
    static func copy(from sourceDb: Database, to path: String, check: Bool,
                     pagesPerStep: Int32 = SQLiteBackup.defaultPagesPerStep,
                     isCancelled: @escaping @Sendable () -> Bool) throws -> Copied {
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
            return Copied(schema: try SQLiteStore.schemaStatus(targetDb), head: try auditHead(targetDb))
        }
    }

    static func auditHead(_ db: Database) throws -> AuditHead? {
        guard try db.tableExists("audit_events") else { return nil }
        return try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .map { AuditHead(seq: $0["seq"], hash: $0["hash"]) }
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
