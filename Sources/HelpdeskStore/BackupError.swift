/// Why a backup or a restore of the SQLite store did not happen, worded for the operator.
public enum BackupError: Error, Sendable, Equatable, CustomStringConvertible {
    case noStore(path: String)
    case exists(path: String)
    case unreadable(path: String, reason: String)
    case unwritable(path: String, reason: String)
    /// Another process has the store open (a running server holds it for as long as it runs).
    case inUse(path: String)
    case damaged(path: String, problems: [String])
    case newerSchema(path: String, unknownMigrations: [String])
    case notAStore(path: String)
    case auditBroken(path: String, seq: Int64?, problem: String)
    /// The backup would go over the live store, its -wal, -shm or -journal, or its audit checkpoint.
    case liveFile(path: String, live: String)
    /// No `FILE.manifest.json` beside the backup, and `--unsigned` was not given.
    case noManifest(path: String)
    case manifestRejected(path: String, problem: String)
    /// Schema objects the migrations do not create (a trigger, a view), or ones changed or missing.
    case unexpectedSchema(path: String, differences: [String])
    /// The backup's audit log ends before, or differs from, the current store's checkpoint.
    case rewind(path: String, problem: String)
    case cancelled

    public var description: String {
        switch self {
        case .noStore(let path):
            "there is no store at \(path) to back up (store.path)"
        case .exists(let path):
            "\(path) already exists: name another file, or pass --force to replace it"
        case .unreadable(let path, let reason):
            "cannot read \(path): \(reason)"
        case .unwritable(let path, let reason):
            "cannot write \(path): \(reason)"
        case .inUse(let path):
            "the store at \(path) is open in another process (is `helpdesk serve` running?): " +
                "stop the server and any other helpdesk command using it, then restore"
        case .damaged(let path, let problems):
            "\(path) fails SQLite's integrity check: \(problems.prefix(3).joined(separator: "; "))"
        case .newerSchema(let path, let unknown):
            "\(path) was written by a newer helpdesk (unknown migrations: \(unknown.joined(separator: ", "))): use that version"
        case .notAStore(let path):
            "\(path) holds no helpdesk store (no migrations applied)"
        case .auditBroken(let path, let seq, let problem):
            "the audit chain in \(path) does not verify\(seq.map { " at event \($0)" } ?? ""): \(problem)"
        case .liveFile(let path, let live):
            "\(path) is the live store's file \(live): a backup written there would replace it under the server; name another file"
        case .noManifest(let path):
            "\(path) has no manifest (\(path).manifest.json), so nothing vouches that helpdesk wrote it " +
                "(backups from before manifests have none): if you trust the file, restore it with --unsigned"
        case .manifestRejected(let path, let problem):
            "the manifest of \(path) does not vouch for it: \(problem); if you trust the file anyway, restore it with --unsigned"
        case .unexpectedSchema(let path, let differences):
            "\(path) holds a schema the migrations do not create, so it was altered after the backup: " +
                differences.prefix(5).joined(separator: "; ")
        case .rewind(let path, let problem):
            "restoring \(path) would rewind the audit log: \(problem); pass --allow-rewind to restore it anyway"
        case .cancelled:
            "the backup was cancelled (the server is stopping)"
        }
    }
}

/// A backup written: where, how big, the schema it holds, and the manifest written beside it.
public struct BackupResult: Sendable, Equatable {
    public var path: String
    public var bytes: Int
    public var schema: SchemaStatus
    public var manifest: BackupManifest
    public var manifestPath: String { BackupManifest.path(for: path) }
}

/// Who vouches for a backup being restored.
public enum BackupAuthenticity: Sendable, Equatable {
    /// Its manifest's MAC verifies under this audit key: this helpdesk (with that key) wrote it.
    case signed(keyID: String)
    /// No audit key is configured and the manifest's checksum matches: integrity, not authenticity.
    case checksum
    /// Restored with `--unsigned`: nothing vouches for it, for this reason.
    case unsigned(reason: String)

    /// `signed`, `checksum` or `unsigned`, as the `store_restored` audit event records it.
    public var name: String {
        switch self {
        case .signed: "signed"
        case .checksum: "checksum"
        case .unsigned: "unsigned"
        }
    }
}

/// What a backup file holds, once it passed SQLite's integrity check, the schema comparison and the
/// audit chain walk.
public struct BackupVerification: Sendable, Equatable {
    public var path: String
    public var schema: SchemaStatus
    public var auditEvents: Int
    /// The last audit event (`nil` for an empty log).
    public var auditHead: AuditHead?
    public var authenticity: BackupAuthenticity
    /// The manifest that vouched for the file (`nil` when restored unsigned).
    public var manifest: BackupManifest?
    /// SHA-256 of the file as it was read (and restored).
    public var sha256: String
    /// Why the restore rewinds the log, when `--allow-rewind` let it.
    public var rewind: String?
}

/// A restore done: the backup it came from, where the store and checkpoint it replaced were kept,
/// and the audit event that records it.
public struct RestoreResult: Sendable, Equatable {
    public var verification: BackupVerification
    /// `PATH.before-restore-<UTC time>`; `nil` when there was no store to keep. Never pruned.
    public var previousStore: String?
    public var previousStoreBytes: Int?
    /// The audit checkpoint of the replaced log, moved aside (it no longer describes the store).
    public var previousCheckpoint: String?
    /// The `store_restored` event's seq; `nil` for a schema before audit key ids (v6), which the
    /// restore does not write to.
    public var recordedAt: Int64?
}
