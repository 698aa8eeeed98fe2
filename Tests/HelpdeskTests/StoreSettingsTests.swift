import Foundation
import HelpdeskConfig
import HelpdeskCore
import Testing

/// `store:`'s migration and backup keys, from the file and the environment.
@Suite struct StoreSettingsTests {
    private func issues(_ yaml: String, environment: [String: String] = [:]) -> [ConfigIssue] {
        configurationIssues(yaml, environment: environment)
    }

    @Test func defaultsMigrateAtStartAndTakeNoBackups() throws {
        let store = try HelpdeskConfiguration(yaml: "", file: "test.yaml", environment: ["HOME": "/home/ann"]).store
        #expect(store.migrateOnStart)
        #expect(store.backupSchedule == nil)
        #expect(store.backupKeep == 7)
        #expect(store.resolvedBackupDirectory == "/home/ann/.local/state/helpdesk/backups")
    }

    @Test func backupKeysAreRead() throws {
        let yaml = """
            store:
              path: /var/lib/helpdesk/helpdesk.sqlite
              migrate_on_start: false
              backup_schedule: 6h
              backup_keep: 3
            """
        let store = try HelpdeskConfiguration(yaml: yaml, file: "test.yaml").store
        #expect(!store.migrateOnStart)
        #expect(store.backupSchedule == .seconds(6 * 3600))
        #expect(store.backupKeep == 3)
        #expect(store.resolvedBackupDirectory == "/var/lib/helpdesk/backups")
        let elsewhere = try HelpdeskConfiguration(yaml: yaml + "\n  backup_dir: /backups\n", file: "test.yaml").store
        #expect(elsewhere.resolvedBackupDirectory == "/backups")
    }

    @Test func environmentOverridesTheFile() throws {
        let store = try HelpdeskConfiguration(yaml: "store:\n  backup_schedule: 6h\n", file: "test.yaml", environment: [
            "HELPDESK_STORE_MIGRATE_ON_START": "false", "HELPDESK_STORE_BACKUP_SCHEDULE": "off",
        ]).store
        #expect(!store.migrateOnStart)
        #expect(store.backupSchedule == nil)
    }

    @Test func aScheduleShorterThanAMinuteOrNotADurationIsRefused() {
        #expect(issues("store:\n  backup_schedule: 10s\n").map(\.keyPath) == ["store.backup_schedule"])
        #expect(issues("store:\n  backup_schedule: nightly\n").first?.message
                == "expected off or an interval like 6h or 1d, from 1m to 30d, got \"nightly\"")
        #expect(issues("store:\n  backup_keep: 0\n").map(\.keyPath) == ["store.backup_keep"])
        #expect(issues("store:\n  migrate_on_start: sometimes\n").map(\.keyPath) == ["store.migrate_on_start"])
        #expect(issues("store:\n  backup_schedule: off\n").isEmpty)
    }

    @Test func aPostgresURLChoosesPostgreSQLAndNeverShowsItsPassword() throws {
        let fromFile = try HelpdeskConfiguration(yaml: "store:\n  url: postgres://hd@db.internal:5432/helpdesk?sslmode=verify-full\n",
                                                 file: "test.yaml", environment: ["HOME": "/home/ann"]).store
        #expect(fromFile.driver == .postgres)
        #expect(fromFile.displayLocation == "postgres://hd@db.internal:5432/helpdesk")
        #expect(fromFile.localFilePath == nil)
        // From the environment, with a password: masked wherever the configuration is shown.
        let configuration = try HelpdeskConfiguration(yaml: "", file: "test.yaml", environment: [
            "HOME": "/home/ann", "HELPDESK_STORE_URL": "postgresql://hd:pa55-w0rd@db:5432/helpdesk"])
        #expect(configuration.store.driver == .postgres)
        #expect(!configuration.store.displayLocation.contains("pa55-w0rd"))
        #expect(configuration.secrets.contains { $0.reveal() == "pa55-w0rd" })  // so the log redactor masks it
    }

    @Test func aSQLiteURLNamesTheFile() throws {
        let store = try HelpdeskConfiguration(yaml: "store:\n  url: sqlite:/var/lib/hd/hd.sqlite\n", file: "test.yaml").store
        #expect(store.driver == .sqlite && store.path == "/var/lib/hd/hd.sqlite" && store.localFilePath == "/var/lib/hd/hd.sqlite")
    }

    @Test(arguments: [
        ("store:\n  url: mysql://root:hunter2-pw@db/x\n", "expected postgres://"),
        ("store:\n  driver: postgres\n", "required with driver postgres"),
        ("store:\n  url: sqlite:/a.sqlite\n  path: /b.sqlite\n", "not both"),
    ])
    func badStoreURLsAreRefusedWithoutEchoingThem(yaml: String, expected: String) {
        let found = issues(yaml, environment: ["HOME": "/home/ann"])
        #expect(found.contains { $0.message.contains(expected) }, "\(found)")
        #expect(!found.contains { $0.message.contains("hunter2-pw") })
    }
}
