import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskGovernance
import HelpdeskStore

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the SQLite store to FILE, also while the server runs (SQLite's online backup API).",
        discussion: """
            The copy is one consistent snapshot that passed PRAGMA integrity_check, written beside FILE and renamed \
            into place, readable by its owner only. Beside it goes FILE.manifest.json: the copy's SHA-256, schema and \
            audit head, sealed with an HMAC under a key derived from the audit key (HELPDESK_AUDIT_KEY, audit.key_file); \
            restore requires it. Without an audit key the manifest is a plain checksum: it shows a damaged or swapped \
            file (integrity), not who wrote it (authenticity). FILE may be a folder: the copy is then named \
            STORE-manual-<UTC time>.sqlite (-2, -3, … within one second), which scheduled pruning \
            (store.backup_keep) never counts nor deletes; without FILE it goes to store.backup_dir. FILE may not be \
            the store, its -wal, -shm or -journal, or the audit checkpoint, even with --force. For the SQLite store \
            only. Exit 0 written, 1 not written.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The file to write, or a folder to put a timestamped copy in (default: store.backup_dir).")
    var file: String?

    @Flag(help: "Replace FILE when it exists.")
    var force = false

    func run() async throws {
        let configuration = try global.loadConfiguration()
        switch configuration.store.driver {
        case .sqlite: break
        case .postgres:
            printError("a PostgreSQL store is backed up and restored with PostgreSQL's tools (pg_dump, pg_restore, or your provider's "
                + "snapshots and point-in-time recovery); helpdesk backup and restore handle the SQLite store")
            throw ExitCode(2)
        }
        let storePath = configuration.store.path
        let chain = AuditChain.configured(configuration.audit, storePath: storePath)
        let target = file ?? configuration.store.resolvedBackupDirectory
        if file == nil {
            try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
        }
        var isDirectory: ObjCBool = false
        let intoFolder = FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) && isDirectory.boolValue
        do {
            let result: BackupResult
            if intoFolder {
                result = try await SQLiteBackup.backup(store: storePath, inFolder: target, kind: .manual, at: Date(),
                                                       keyring: chain.keyring, checkpointFile: chain.checkpointFile)
            } else {
                result = try await SQLiteBackup.backup(store: storePath, to: target, overwrite: force,
                                                       keyring: chain.keyring, checkpointFile: chain.checkpointFile)
            }
            print("ok: \(result.path): \(result.bytes) bytes, schema \(result.schema.versionDescription), integrity ok")
            let sealed = result.manifest.keyID == AuditCheckpoint.unkeyedID
                ? "a checksum only: no audit key is configured, so it shows damage, not who wrote the file"
                : "signed with audit key \(result.manifest.keyID)"
            print("manifest: \(result.manifestPath) (audit head \(result.manifest.auditHeadSeq); \(sealed))")
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Replace the SQLite store with a backup; the server must be stopped.",
        discussion: """
            FILE is read once into a private copy while it is hashed, and that copy is what is checked and restored. \
            Its manifest (FILE.manifest.json) must verify: its MAC under the configured audit keys and its SHA-256 \
            (without an audit key only the checksum, which proves integrity, not authenticity); --unsigned restores \
            without one, with a warning, and says so in the audit log. Then: PRAGMA integrity_check, a schema this \
            helpdesk knows holding exactly what its migrations create (no added trigger, view, table or index), an \
            audit chain that verifies with the configured audit keys (with a key set, a chain of plain SHA-256 events \
            only needs a signed manifest) and ends where the manifest says, and that reaches the store's audit \
            checkpoint (--allow-rewind restores an older log anyway). The store is refused while any process has it \
            open (stop `helpdesk serve`). It is written through SQLite's backup API, not copied over, so its log stays \
            consistent, and a store_restored audit event records the restore. The replaced store is kept as \
            STORE.before-restore-<UTC time> (never pruned: delete it once the restore is confirmed), and its audit \
            checkpoint is moved aside the same way: it seals the replaced log. For the SQLite store only. Exit 0 \
            restored, 1 refused or failed.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The backup to restore (written by helpdesk backup or on store.backup_schedule).")
    var file: String

    @Flag(help: "Restore FILE although no manifest vouches for it (a backup from before manifests, or one whose key is gone).")
    var unsigned = false

    @Flag(help: "Restore FILE although its audit log ends before the store's audit checkpoint, or differs from it.")
    var allowRewind = false

    @Option(name: .customLong("as"), help: "Who restores, recorded in the store_restored audit event. Default: the login name.")
    var principal: String?

    func run() async throws {
        let configuration = try global.loadConfiguration()
        switch configuration.store.driver {
        case .sqlite: break
        case .postgres:
            printError("a PostgreSQL store is backed up and restored with PostgreSQL's tools (pg_dump, pg_restore, or your provider's "
                + "snapshots and point-in-time recovery); helpdesk backup and restore handle the SQLite store")
            throw ExitCode(2)
        }
        let storePath = configuration.store.path
        let chain = AuditChain.configured(configuration.audit, storePath: storePath)
        let environment = ProcessInfo.processInfo.environment
        let performer = principal ?? environment["USER"] ?? environment["LOGNAME"] ?? "cli"
        let result: RestoreResult
        do {
            result = try SQLiteBackup.restore(from: file, into: storePath, keyring: chain.keyring, checkpointFile: chain.checkpointFile,
                                              unsigned: unsigned, allowRewind: allowRewind, performedBy: performer)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        let checked = result.verification
        switch checked.authenticity {
        case .signed(let keyID):
            print("manifest: signed with audit key \(keyID), SHA-256 matches")
        case .checksum:
            print("manifest: checksum matches (no audit key is configured: integrity, not authenticity)")
        case .unsigned(let reason):
            printError("warning: restoring \(file) unsigned: \(reason); nothing vouches that helpdesk wrote it " +
                       "(recorded in the store_restored audit event)")
        }
        print("checked \(file): integrity ok, schema \(checked.schema.versionDescription) as its migrations make it, " +
              "audit chain intact (\(checked.auditEvents) events)")
        if let rewind = checked.rewind { printError("warning: the audit log was rewound (--allow-rewind): \(rewind)") }
        if let previous = result.previousStore {
            let size = result.previousStoreBytes.map { "\($0) bytes" } ?? "size unknown"
            print("kept the replaced store as \(previous) (\(size); not pruned: delete it once the restore is confirmed)")
        }
        if let checkpoint = result.previousCheckpoint { print("moved the replaced log's audit checkpoint to \(checkpoint)") }
        print("restored \(storePath) from \(file)")
        if let seq = result.recordedAt {
            print("recorded as audit event \(seq) (store_restored, by \(performer))")
        } else {
            print("not recorded in the audit log: schema \(checked.schema.version) predates audit key ids (v6)")
        }
        if !checked.schema.isCurrent {
            print(configuration.store.migrateOnStart
                  ? "the server applies \(checked.schema.pending.count) pending migration(s) when it starts"
                  : "run `helpdesk migrate` before starting the server (store.migrate_on_start is false)")
        }
    }
}
