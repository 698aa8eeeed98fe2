import Foundation
import GRDB
import HelpdeskCore
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// `helpdesk backup` and `helpdesk restore`: online copies consistent while the server writes, and
/// restores that check the copy first and never run under a live server.
@Suite struct StoreBackupTests {
    static let keyring = AuditKeyring(current: AuditKey(id: "k1", secret: Secret("backup-test-audit-key-0123456789")))
    /// 2026-03-14T06:15:00Z
    static let restoredAt = Date(timeIntervalSince1970: 1_773_468_900)

    private func restoreError(_ file: String, into path: String, unsigned: Bool = false) -> String? {
        do {
            _ = try SQLiteBackup.restore(from: file, into: path, keyring: Self.keyring, checkpointFile: nil, unsigned: unsigned)
            return nil
        } catch {
            return "\(error)"
        }
    }

    private func refusal(_ body: () throws -> RestoreResult) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    private func leftovers(in folder: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") || $0.contains(".before-restore-") }
    }

    @Test func backupWhileWritesGoOnIsOneSnapshotHoldingEveryCommittedRow() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        let payload = "{\"pad\":\"\(String(repeating: "x", count: 1_000))\"}"
        for _ in 0..<300 { try await store.apply(ChangeSet(jobs: [NewJob(kind: "before", payload: payload)])) }
        let target = folder.file("copy.sqlite")
        // One page a step, so the copy spans many steps while the writer keeps committing.
        let (result, writtenDuring) = try await withThrowingTaskGroup(of: Int.self, returning: (BackupResult, Int).self) { group in
            group.addTask {
                var written = 0
                while !Task.isCancelled {
                    try await store.apply(ChangeSet(jobs: [NewJob(kind: "during", payload: payload)]))
                    written += 1
                }
                return written
            }
            let result = try await SQLiteBackup.backup(store: store.path, to: target, pagesPerStep: 1)
            group.cancelAll()
            return (result, try await group.next() ?? 0)
        }
        #expect(try await store.jobs.stats(now: Date()).counts[.queued] == 300 + writtenDuring)
        try await store.close()

        #expect(result.path == target)
        #expect(result.schema.isCurrent)
        let (integrity, before, count, top, journal) = try await DatabaseQueue(path: target).read { db in
            (try String.fetchAll(db, sql: "PRAGMA integrity_check"),
             try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE kind = 'before'"),
             try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs"),
             try Int.fetchOne(db, sql: "SELECT max(id) FROM jobs"),
             try String.fetchOne(db, sql: "PRAGMA journal_mode"))
        }
        #expect(integrity == ["ok"])
        #expect(before == 300, "every row committed before the backup started is in it")
        #expect(count == top, "one snapshot: the first commits in order, none missing in between")
        #expect(journal == "delete", "a single file, readable without a -wal beside it")
        let mode = (try FileManager.default.attributesOfItem(atPath: target)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(try leftovers(in: folder).isEmpty)

        // The manifest beside it names the bytes and the log's end; with no key it is a checksum.
        let manifest = try JSONDecoder().decode(BackupManifest.self, from: Data(contentsOf: URL(fileURLWithPath: target + ".manifest.json")))
        #expect(manifest == result.manifest)
        #expect(manifest.bytes == Int64(result.bytes) && manifest.sha256.count == 64)
        #expect(manifest.keyID == "none" && manifest.schemaVersion == result.schema.version)
    }

    @Test func anExistingFileIsReplacedOnlyWhenForced() async throws {
        try await withTemporaryStore { store in
            let target = (store.path as NSString).deletingLastPathComponent + "/copy.sqlite"
            _ = try await SQLiteBackup.backup(store: store.path, to: target)
            await #expect(throws: BackupError.exists(path: target)) {
                try await SQLiteBackup.backup(store: store.path, to: target)
            }
            try await store.apply(ChangeSet(jobs: [NewJob(kind: "newer", payload: "{}")]))
            _ = try await SQLiteBackup.backup(store: store.path, to: target, overwrite: true)
            let kinds = try await DatabaseQueue(path: target).read { db in try String.fetchAll(db, sql: "SELECT kind FROM jobs") }
            #expect(kinds == ["newer"])
            await #expect(throws: BackupError.noStore(path: target + ".missing")) {
                try await SQLiteBackup.backup(store: target + ".missing", to: target + ".copy")
            }
        }
    }

    @Test func restoreBringsTheBackupBackAndKeepsWhatItReplaced() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        let checkpoint = folder.file("hd.sqlite.audit-checkpoint")
        let store = try SQLiteStore(options: .init(path: path))
        store.attachAuditChain(AuditChain(keyring: Self.keyring, checkpointFile: checkpoint))
        try await store.apply(ChangeSet(jobs: [NewJob(kind: "kept", payload: "{}")], audit: [AuditDraft(kind: "tool_call", target: "prod-db")]))
        let backup = folder.file("backup.sqlite")
        _ = try await SQLiteBackup.backup(store: path, to: backup, keyring: Self.keyring, checkpointFile: checkpoint)
        try await store.apply(ChangeSet(jobs: [NewJob(kind: "after-backup", payload: "{}")], audit: [AuditDraft(kind: "tool_call")]))
        let head = try #require(try await store.audit.head())
        try await store.close()
        try AuditCheckpoint.sign(head, at: Self.restoredAt, keyring: Self.keyring).write(to: checkpoint)

        // The store's checkpoint saw event 2, the backup ends at 1: restoring it loses an event.
        let rewinds = refusal { try SQLiteBackup.restore(from: backup, into: path, keyring: Self.keyring, checkpointFile: checkpoint) }
        #expect(rewinds?.contains("would rewind the audit log: the backup's audit log ends at event 1") == true)
        let result = try SQLiteBackup.restore(from: backup, into: path, keyring: Self.keyring, checkpointFile: checkpoint,
                                              allowRewind: true, performedBy: "alice", now: Self.restoredAt)
        #expect(result.verification.auditEvents == 1)
        #expect(result.verification.authenticity == .signed(keyID: "k1"))
        #expect(result.verification.rewind?.contains("ends at event 1, but the store's checkpoint") == true)
        #expect(result.recordedAt == 2)
        #expect((result.previousStoreBytes ?? 0) > 0)
        #expect(result.previousStore == path + ".before-restore-20260314T061500Z")
        #expect(result.previousCheckpoint == checkpoint + ".before-restore-20260314T061500Z")
        #expect(!FileManager.default.fileExists(atPath: checkpoint), "the checkpoint sealed the replaced log")

        let restored = try SQLiteStore(options: .init(path: path, migrateOnOpen: false))
        restored.attachAuditChain(AuditChain(keyring: Self.keyring, checkpointFile: checkpoint))
        #expect(try await restored.jobs.list(state: nil, limit: 10).map(\.kind) == ["kept"])
        #expect(try await restored.audit.verify().ok)
        let recorded = try #require(try await restored.audit.events(since: nil, limit: 10).last)
        #expect(recorded.kind == "store_restored" && recorded.principal == "alice" && recorded.keyID == "k1")
        #expect(recorded.data.contains(#""authenticity":"signed""#) && recorded.data.contains(#""rewind":"#))
        try await restored.close()
        let replaced = try await DatabaseQueue(path: path + ".before-restore-20260314T061500Z").read { db in
            try String.fetchAll(db, sql: "SELECT kind FROM jobs ORDER BY id")
        }
        #expect(replaced == ["kept", "after-backup"])
    }

    @Test func restoreIsRefusedWhileAnotherConnectionHasTheStoreOpen() async throws {
        try await withTemporaryStore { store in
            try await store.apply(ChangeSet(jobs: [NewJob(kind: "live", payload: "{}")]))
            let backup = (store.path as NSString).deletingLastPathComponent + "/backup.sqlite"
            _ = try await SQLiteBackup.backup(store: store.path, to: backup)
            #expect(throws: BackupError.inUse(path: store.path)) {
                try SQLiteBackup.restore(from: backup, into: store.path, keyring: AuditKeyring(), checkpointFile: nil,
                                         busyTimeout: .milliseconds(100))
            }
            // The open store carries on, and nothing was set aside.
            try await store.apply(ChangeSet(jobs: [NewJob(kind: "still-live", payload: "{}")]))
            #expect(try await store.jobs.list(state: nil, limit: 10).count == 2)
            let names = try FileManager.default.contentsOfDirectory(atPath: (store.path as NSString).deletingLastPathComponent)
            #expect(!names.contains { $0.contains(".before-restore-") })
        }
    }

    @Test func aBackupThatDoesNotVerifyIsNotRestored() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        let store = try SQLiteStore(options: .init(path: path))
        store.attachAuditChain(AuditChain(keyring: Self.keyring, checkpointFile: nil))
        for index in 0..<3 {
            try await store.apply(ChangeSet(audit: [AuditDraft(kind: "tool_call", target: "db-\(index)")]))
        }
        let good = folder.file("good.sqlite")
        _ = try await SQLiteBackup.backup(store: path, to: good, keyring: Self.keyring)
        try await store.close()

        // Edited with its manifest beside it: the manifest no longer matches; unsigned, the chain does not.
        let edited = folder.file("edited.sqlite")
        try FileManager.default.copyItem(atPath: good, toPath: edited)
        try FileManager.default.copyItem(atPath: good + ".manifest.json", toPath: edited + ".manifest.json")
        try await DatabaseQueue(path: edited).write { db in try db.execute(sql: "UPDATE audit_events SET target = 'other' WHERE seq = 2") }
        #expect(restoreError(edited, into: path)?.contains("the file was changed or replaced after the backup") == true)
        #expect(restoreError(edited, into: path, unsigned: true)?.contains("the audit chain in \(edited) does not verify at event 2") == true)

        let newer = folder.file("newer.sqlite")
        try FileManager.default.copyItem(atPath: good, toPath: newer)
        try await DatabaseQueue(path: newer).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        }
        #expect(restoreError(newer, into: path) == BackupError.noManifest(path: newer).description)
        #expect(restoreError(newer, into: path, unsigned: true)
                == BackupError.newerSchema(path: newer, unknownMigrations: ["v99-from-the-future"]).description)

        let junk = try folder.write("junk.sqlite", String(repeating: "not a database ", count: 100))
        #expect(restoreError(junk, into: path, unsigned: true)?.hasPrefix("cannot read \(junk)") == true)
        #expect(restoreError(folder.file("missing.sqlite"), into: path)?.hasPrefix("cannot read") == true)

        #expect(restoreError(good, into: path) == nil, "the untouched backup restores")
        #expect(try leftovers(in: folder).count == 1, "only the store the good restore replaced is kept")
    }
}
