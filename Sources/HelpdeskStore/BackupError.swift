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
        case .cancelled:
            "the backup was cancelled (the server is stopping)"
        }
    }
}

/// A backup written: where, how big, and the schema it holds.
public struct BackupResult: Sendable, Equatable {
    public var path: String
    public var bytes: Int
    public var schema: SchemaStatus
}

/// What a backup file holds, once it passed SQLite's integrity check and its audit chain verified.
public struct BackupVerification: Sendable, Equatable {
    public var path: String
    public var schema: SchemaStatus
    public var auditEvents: Int
}

/// A restore done: the backup it came from, and where the store and checkpoint it replaced were kept.
public struct RestoreResult: Sendable, Equatable {
    public var verification: BackupVerification
    /// `PATH.before-restore-<UTC time>`; `nil` when there was no store to keep.
    public var previousStore: String?
    /// The audit checkpoint of the replaced log, moved aside (it no longer describes the store).
    public var previousCheckpoint: String?
}
