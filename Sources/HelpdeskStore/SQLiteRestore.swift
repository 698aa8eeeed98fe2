import Foundation
import GRDB
import HelpdeskCore

extension SQLiteBackup {
    /// Replaces the store at `storePath` with the backup `file` through the backup API, so the
    /// store's log and index stay consistent (a file copy would not).
    ///
    /// `file` is read once into a private copy beside the store while its SHA-256 is taken; that
    /// copy, opened read-only with `trusted_schema` off, is verified and restored from inside one
    /// read transaction, so what was checked is what is restored. Before that, its manifest must
    /// vouch for it (``BackupManifest``), unless `unsigned`; and its audit log must reach the store's
    /// audit checkpoint, unless `allowRewind`.
    ///
    /// Refuses while any other process has the store open, keeps the replaced store as
    /// `PATH.before-restore-<UTC time>` (never pruned), moves `checkpointFile` aside the same way
    /// (it seals the replaced log), and appends a `store_restored` event by `performedBy` to the
    /// restored log.
    public static func restore(from file: String, into storePath: String, keyring: AuditKeyring, checkpointFile: String?,
                               unsigned: Bool = false, allowRewind: Bool = false, performedBy: String = "cli",
                               busyTimeout: Duration = .seconds(2), now: Date = Date()) throws(BackupError) -> RestoreResult {
        guard FileManager.default.fileExists(atPath: file) else {
            throw .unreadable(path: file, reason: String(cString: strerror(ENOENT)))
        }
        if let live = BackupFiles.liveFile(file, store: storePath, checkpointFile: checkpointFile) {
            throw .unreadable(path: file, reason: "it is the store's own file \(live), not a backup")
        }
        var manifest: BackupManifest?
        do throws(BackupError) {
            manifest = try BackupManifest.read(for: file)
        } catch {
            guard unsigned, case .manifestRejected = error else { throw error }
        }
        let copy = try BackupFiles.privateCopy(of: file, beside: storePath)
        defer { BackupFiles.remove(copy.path) }
        let authenticity: BackupAuthenticity
        var vouching: BackupManifest?
        switch manifest?.vouches(sha256: copy.sha256, bytes: copy.bytes, keyring: keyring) {
        case .success(let vouched)?:
            authenticity = vouched
            vouching = manifest
        case .failure(let problem)?:
            guard unsigned else { throw .manifestRejected(path: file, problem: problem.message) }
            authenticity = .unsigned(reason: "its manifest does not vouch for it: \(problem.message)")
        case nil:
            guard unsigned else { throw .noManifest(path: file) }
            authenticity = .unsigned(reason: "it has no manifest")
        }
        do {
            let backup = try DatabaseQueue(path: copy.path, configuration: untrustedConfiguration())
            defer { try? backup.close() }
            return try backup.inDatabase { backupDb in
                var result: RestoreResult?
                try backupDb.inTransaction(.deferred) {
                    var verification = try verify(backupDb, path: file, keyring: keyring, manifest: vouching, authenticity: authenticity,
                                                  sha256: copy.sha256)
                    if let problem = try rewindProblem(backupDb, head: verification.auditHead, checkpointFile: checkpointFile,
                                                       keyring: keyring) {
                        guard allowRewind else { throw BackupError.rewind(path: file, problem: problem) }
                        verification.rewind = problem
                    }
                    result = try replace(storePath, from: backupDb, verification: verification, keyring: keyring,
                                         checkpointFile: checkpointFile, performedBy: performedBy, busyTimeout: busyTimeout, now: now)
                    return .commit
                }
                guard let restored = result else { throw BackupError.unreadable(path: file, reason: "the backup was not read") }
                return restored
            }
        } catch let error as BackupError {
            throw error
        } catch {
            throw .unreadable(path: file, reason: SQLiteStore.describe(error))
        }
    }

    /// The store's half of a restore, under its exclusive lock: keep the old contents, copy the
    /// verified backup in, record the restore, move the old checkpoint aside.
    private static func replace(_ storePath: String, from backupDb: Database, verification: BackupVerification, keyring: AuditKeyring,
                                checkpointFile: String?, performedBy: String, busyTimeout: Duration,
                                now: Date) throws(BackupError) -> RestoreResult {
        let suffix = ".before-restore-" + BackupFiles.stamp(now)
        let store = try openExclusively(storePath, busyTimeout: busyTimeout)
        defer { try? store.close() }
        do {
            var result = RestoreResult(verification: verification, previousStore: nil, previousStoreBytes: nil, previousCheckpoint: nil,
                                       recordedAt: nil)
            try store.writeWithoutTransaction { db in
                if try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0 > 0 {
                    let kept = try keepCopy(of: db, as: storePath + suffix)
                    result.previousStore = kept
                    result.previousStoreBytes = (try? FileManager.default.attributesOfItem(atPath: kept)[.size] as? NSNumber)?.intValue
                }
                try backupDb.backup(to: db)
                // The server opens the store in WAL mode anyway; a store restored into a new file starts there too.
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                try integrityCheck(db, path: storePath)
                result.recordedAt = try recordRestore(in: db, verification: verification, previousStore: result.previousStore,
                                                      keyring: keyring, performedBy: performedBy, now: now)
                if let checkpointFile, FileManager.default.fileExists(atPath: checkpointFile) {
                    try FileManager.default.moveItem(atPath: checkpointFile, toPath: checkpointFile + suffix)
                    result.previousCheckpoint = checkpointFile + suffix
                }
            }
            // Closing copies the log into the file while the lock is still held.
            try store.close()
            return result
        } catch let error as BackupError {
            throw error
        } catch {
            throw .unwritable(path: storePath, reason: SQLiteStore.describe(error))
        }
    }

    /// Appends `store_restored` to the restored log, sealed with the current audit key: what was
    /// restored, who vouched for it, and by whom. A schema before audit key ids (v6) is left as it is.
    private static func recordRestore(in db: Database, verification: BackupVerification, previousStore: String?,
                                      keyring: AuditKeyring, performedBy: String, now: Date) throws -> Int64? {
        guard try db.tableExists("audit_events"), try db.columns(in: "audit_events").contains(where: { $0.name == "key_id" }) else {
            return nil
        }
        let head = verification.auditHead
        var data: [String: JSONValue] = [
            "backup": .string(verification.path),
            "sha256": .string(verification.sha256),
            "schema_version": .number(Double(verification.schema.version)),
            "audit_head_seq": .number(Double(head?.seq ?? 0)),
            "audit_head_hash": .string(head?.hash ?? AuditHashing.genesis),
            "authenticity": .string(verification.authenticity.name),
        ]
        if case .signed(let keyID) = verification.authenticity { data["manifest_key_id"] = .string(keyID) }
        if case .unsigned(let reason) = verification.authenticity { data["unsigned_reason"] = .string(reason) }
        if let manifest = verification.manifest { data["backup_created_at"] = .string(manifest.createdAt) }
        if let rewind = verification.rewind { data["rewind"] = .string(rewind) }
        if let previousStore { data["previous_store"] = .string(previousStore) }
        let draft = AuditDraft(kind: "store_restored", principal: performedBy, target: nil, data: .object(data))
        var seq: Int64?
        try db.inTransaction {
            seq = try SQLiteAuditLog.append([draft], in: db, now: now, key: keyring.current).last
            return .commit
        }
        return seq
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
