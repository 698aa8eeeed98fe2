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
            into place, readable by its owner only. FILE may be a folder: the copy is then named with the UTC time, \
            as scheduled backups (store.backup_schedule) are; without FILE it goes to store.backup_dir. \
            For the SQLite store only. Exit 0 written, 1 not written.
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
        }
        let storePath = configuration.store.path
        var target = file ?? configuration.store.resolvedBackupDirectory
        if file == nil {
            try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory), isDirectory.boolValue {
            target = (target as NSString).appendingPathComponent(BackupFiles.timestampedName(store: storePath, at: Date()))
        }
        do {
            let result = try await SQLiteBackup.backup(store: storePath, to: target, overwrite: force)
            print("ok: \(result.path): \(result.bytes) bytes, schema \(result.schema.versionDescription), integrity ok")
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
            FILE is checked first: PRAGMA integrity_check, a schema this helpdesk knows, and an audit chain that \
            verifies with the configured audit keys. The store is refused while any process has it open (stop \
            `helpdesk serve`). It is written through SQLite's backup API, not copied over, so its log stays \
            consistent. The replaced store is kept as STORE.before-restore-<UTC time>, and its audit checkpoint is \
            moved aside the same way: it seals the replaced log. For the SQLite store only. Exit 0 restored, \
            1 refused or failed.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The backup to restore (written by helpdesk backup or on store.backup_schedule).")
    var file: String

    func run() async throws {
        let configuration = try global.loadConfiguration()
        switch configuration.store.driver {
        case .sqlite: break
        }
        let storePath = configuration.store.path
        let chain = AuditChain.configured(configuration.audit, storePath: storePath)
        let result: RestoreResult
        do {
            result = try SQLiteBackup.restore(from: file, into: storePath, keyring: chain.keyring,
                                              checkpointFile: chain.checkpointFile)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        let checked = result.verification
        print("checked \(file): integrity ok, schema \(checked.schema.versionDescription), audit chain intact (\(checked.auditEvents) events)")
        if let previous = result.previousStore { print("kept the replaced store as \(previous)") }
        if let checkpoint = result.previousCheckpoint { print("moved the replaced log's audit checkpoint to \(checkpoint)") }
        print("restored \(storePath) from \(file)")
        if !checked.schema.isCurrent {
            print(configuration.store.migrateOnStart
                  ? "the server applies \(checked.schema.pending.count) pending migration(s) when it starts"
                  : "run `helpdesk migrate` before starting the server (store.migrate_on_start is false)")
        }
    }
}
