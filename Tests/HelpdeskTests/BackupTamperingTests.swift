import Foundation
import GRDB
import HelpdeskCore
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// Restores against someone who can write backup files but holds no audit key: forged manifests,
/// truncated or emptied logs, chains re-hashed as plain SHA-256, and triggers added to the schema
/// are refused; what a legacy store legitimately holds still restores.
@Suite struct BackupTamperingTests {
    static let keyring = AuditKeyring(current: AuditKey(id: "k1", secret: Secret("backup-tamper-audit-key-0123456789")))

    /// A store at `path` with `count` audit events, sealed with `keyring` (plain SHA-256 without one).
    @discardableResult
    private func makeStore(_ path: String, keyring: AuditKeyring?, events count: Int, from first: Int = 0) async throws -> AuditHead? {
        let store = try SQLiteStore(options: .init(path: path))
        if let keyring { store.attachAuditChain(AuditChain(keyring: keyring, checkpointFile: nil)) }
        for index in first..<(first + count) {
            try await store.apply(ChangeSet(audit: [AuditDraft(kind: "tool_call", target: "db-\(index)")]))
        }
        let head = try await store.audit.head()
        try await store.close()
        return head
    }

    /// The refusal's text, or `nil` when the restore went through.
    private func refusal(_ file: String, into path: String, keyring: AuditKeyring = Self.keyring, checkpoint: String? = nil,
                         unsigned: Bool = false) -> String? {
        do {
            _ = try SQLiteBackup.restore(from: file, into: path, keyring: keyring, checkpointFile: checkpoint, unsigned: unsigned)
            return nil
        } catch {
            return "\(error)"
        }
    }

    private func copy(_ backup: String, to path: String, withManifest: Bool) throws {
        try FileManager.default.copyItem(atPath: backup, toPath: path)
        if withManifest { try FileManager.default.copyItem(atPath: backup + ".manifest.json", toPath: path + ".manifest.json") }
    }

    /// What a writer without the key can do: every hash recomputed as plain SHA-256.
    private func rehashWithoutKey(_ path: String) async throws {
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "UPDATE audit_events SET key_id = NULL")
            var previous = AuditHashing.genesis
            for row in try Row.fetchAll(db, sql: "SELECT * FROM audit_events ORDER BY seq") {
                let seq: Int64 = row["seq"]
                let hash = AuditHashing.hash(AuditHashing.canonical(
                    seq: seq, id: row["id"], atMicroseconds: row["at_us"], kind: row["kind"], principal: row["principal"],
                    target: row["target"], data: row["data"], prevHash: previous))
                try db.execute(sql: "UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?", arguments: [previous, hash, seq])
                previous = hash
            }
        }
    }

    @Test func aManifestEditedToMatchATruncatedLogIsRefused() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        try await makeStore(path, keyring: Self.keyring, events: 5)
        let good = folder.file("good.sqlite")
        _ = try await SQLiteBackup.backup(store: path, to: good, keyring: Self.keyring)

        let truncated = folder.file("truncated.sqlite")
        try copy(good, to: truncated, withManifest: true)
        try await DatabaseQueue(path: truncated).write { db in try db.execute(sql: "DELETE FROM audit_events WHERE seq > 2") }
        let manifestPath = truncated + ".manifest.json"
        var manifest = try JSONDecoder().decode(BackupManifest.self, from: Data(contentsOf: URL(fileURLWithPath: manifestPath)))
        manifest.auditHeadSeq = 2
        try JSONEncoder().encode(manifest).write(to: URL(fileURLWithPath: manifestPath))
        #expect(refusal(truncated, into: path)?.contains("its MAC does not verify under audit key k1, so it was forged or altered") == true)
        #expect(refusal(good, into: path) == nil, "the untouched backup restores")
    }

    @Test func aChainRewrittenAsPlainSHA256IsRefusedWhenAKeyIsConfigured() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        try await makeStore(path, keyring: Self.keyring, events: 4)
        // The attacker's own "backup" of a re-hashed copy: its manifest can only be a plain checksum.
        let tampered = folder.file("tampered-store.sqlite")
        _ = try await SQLiteBackup.backup(store: path, to: tampered)
        try await rehashWithoutKey(tampered)
        let forged = folder.file("forged.sqlite")
        _ = try await SQLiteBackup.backup(store: tampered, to: forged)

        #expect(refusal(forged, into: path)?.contains("it is not signed (key_id=none) although an audit key is configured") == true)
        #expect(refusal(forged, into: path, unsigned: true)?
            .contains("its 4 events are all plain SHA-256 while an audit key is configured") == true)
        // Without a key configured there is nothing to tell it from a legacy store: it restores.
        #expect(refusal(forged, into: path, keyring: AuditKeyring()) == nil)
    }

    @Test func anEmptiedOrTruncatedLogIsRefusedAgainstTheStoresCheckpoint() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        let checkpoint = folder.file("hd.sqlite.audit-checkpoint")
        let head = try #require(try await makeStore(path, keyring: Self.keyring, events: 5))
        try AuditCheckpoint.sign(head, at: Date(), keyring: Self.keyring).write(to: checkpoint)
        let good = folder.file("good.sqlite")
        _ = try await SQLiteBackup.backup(store: path, to: good, keyring: Self.keyring)

        let emptied = folder.file("emptied.sqlite")
        try copy(good, to: emptied, withManifest: true)
        try await DatabaseQueue(path: emptied).write { db in try db.execute(sql: "DELETE FROM audit_events") }
        #expect(refusal(emptied, into: path, checkpoint: checkpoint)?.contains("the file was changed or replaced") == true)
        #expect(refusal(emptied, into: path, checkpoint: checkpoint, unsigned: true)?
            .contains("would rewind the audit log: the backup's audit log ends at event 0") == true)

        let truncated = folder.file("truncated.sqlite")
        try copy(good, to: truncated, withManifest: false)
        try await DatabaseQueue(path: truncated).write { db in try db.execute(sql: "DELETE FROM audit_events WHERE seq > 3") }
        #expect(refusal(truncated, into: path, checkpoint: checkpoint, unsigned: true)?.contains("2 events would be lost") == true)
        #expect(FileManager.default.fileExists(atPath: checkpoint), "nothing was restored")
    }

    @Test(arguments: [
        ("CREATE TRIGGER wipe AFTER INSERT ON audit_events BEGIN DELETE FROM audit_events WHERE seq < NEW.seq; END",
         #"trigger "wipe" is not made by any migration"#),
        ("CREATE VIEW recent AS SELECT * FROM audit_events", #"view "recent" is not made by any migration"#),
        ("CREATE TABLE notes (body TEXT)", #"table "notes" is not made by any migration"#),
        ("CREATE INDEX audit_kind ON audit_events(kind)", #"index "audit_kind" is not made by any migration"#),
        ("DROP INDEX audit_events_at", #"index "audit_events_at" is missing"#),
    ])
    func schemaObjectsTheMigrationsDoNotMakeAreRefused(change: String, expected: String) async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        try await makeStore(path, keyring: Self.keyring, events: 2)
        let good = folder.file("good.sqlite")
        _ = try await SQLiteBackup.backup(store: path, to: good, keyring: Self.keyring)
        let altered = folder.file("altered.sqlite")
        try copy(good, to: altered, withManifest: false)
        try await DatabaseQueue(path: altered).write { db in try db.execute(sql: change) }

        let refused = refusal(altered, into: path, unsigned: true)
        #expect(refused?.contains("holds a schema the migrations do not create") == true, "\(refused ?? "restored")")
        #expect(refused?.contains(expected) == true, "\(refused ?? "restored")")
    }

    @Test func plainEventsAfterAKeyedOneAreRefused() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        try await makeStore(path, keyring: Self.keyring, events: 3)
        try await makeStore(path, keyring: nil, events: 1, from: 3)  // a process without the key
        let backup = folder.file("backup.sqlite")
        _ = try await SQLiteBackup.backup(store: path, to: backup, keyring: Self.keyring)
        #expect(refusal(backup, into: folder.file("restored.sqlite"))?.contains("it is unkeyed but follows keyed events") == true)
    }

    @Test func aLegacyStoreWithPlainEventsFirstRestores() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let legacy = folder.file("legacy.sqlite")
        try await makeStore(legacy, keyring: nil, events: 2)
        // Backed up once the key is configured: the manifest is signed, so a plain-only log is fine.
        let plainOnly = folder.file("plain-only.sqlite")
        _ = try await SQLiteBackup.backup(store: legacy, to: plainOnly, keyring: Self.keyring)
        #expect(refusal(plainOnly, into: folder.file("a.sqlite")) == nil)

        try await makeStore(legacy, keyring: Self.keyring, events: 2, from: 2)
        let mixed = folder.file("mixed.sqlite")
        _ = try await SQLiteBackup.backup(store: legacy, to: mixed, keyring: Self.keyring)
        try FileManager.default.removeItem(atPath: mixed + ".manifest.json")
        // Unsigned too: the first keyed event's MAC seals the plain events before it.
        let result = try SQLiteBackup.restore(from: mixed, into: folder.file("b.sqlite"), keyring: Self.keyring, checkpointFile: nil,
                                              unsigned: true)
        #expect(result.verification.auditEvents == 4)
        #expect(result.verification.authenticity == .unsigned(reason: "it has no manifest"))
    }

    @Test func anUnsignedRestoreNeedsTheFlagAndIsRecorded() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        try await makeStore(path, keyring: Self.keyring, events: 2)
        let backup = folder.file("old.sqlite")
        _ = try await SQLiteBackup.backup(store: path, to: backup, keyring: Self.keyring)
        try FileManager.default.removeItem(atPath: backup + ".manifest.json")
        #expect(refusal(backup, into: path) == BackupError.noManifest(path: backup).description)

        let result = try SQLiteBackup.restore(from: backup, into: path, keyring: Self.keyring, checkpointFile: nil, unsigned: true,
                                              performedBy: "bob")
        #expect(result.recordedAt == 3)
        let store = try SQLiteStore(options: .init(path: path))
        store.attachAuditChain(AuditChain(keyring: Self.keyring, checkpointFile: nil))
        let recorded = try #require(try await store.audit.events(since: nil, limit: 10).last)
        #expect(recorded.kind == "store_restored" && recorded.principal == "bob")
        #expect(recorded.data.contains(#""authenticity":"unsigned""#) && recorded.data.contains(#""unsigned_reason":"it has no manifest""#))
        #expect(try await store.audit.verify().ok)
        try await store.close()
    }

    @Test func aManifestSignedWithThePreviousKeyVerifiesAfterARotation() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        try await makeStore(path, keyring: Self.keyring, events: 2)
        let backup = folder.file("backup.sqlite")
        _ = try await SQLiteBackup.backup(store: path, to: backup, keyring: Self.keyring)
        let rotated = AuditKeyring(current: AuditKey(id: "k2", secret: Secret("backup-tamper-rotated-key-0123456789")),
                                   previous: Self.keyring.current)
        let result = try SQLiteBackup.restore(from: backup, into: path, keyring: rotated, checkpointFile: nil)
        #expect(result.verification.authenticity == .signed(keyID: "k1"))
        #expect(refusal(backup, into: path, keyring: AuditKeyring(current: rotated.current))?
            .contains("signed with audit key id \"k1\", which is not configured") == true)
    }

    @Test func theStoresOwnFilesAreNeverBackupDestinations() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        let checkpoint = folder.file("hd.sqlite.audit-checkpoint")
        try await makeStore(path, keyring: nil, events: 1)
        let inode = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: folder.path)
        try FileManager.default.linkItem(atPath: path, toPath: folder.file("hard.sqlite"))
        let cases: [(String, String)] = [
            (path, path), (path + "-wal", path + "-wal"), (path + "-shm", path + "-shm"), (checkpoint, checkpoint),
            (folder.file("link/hd.sqlite"), path), (folder.path + "/./hd.sqlite", path), (folder.file("hard.sqlite"), path),
        ]
        for (destination, live) in cases {
            await #expect(throws: BackupError.liveFile(path: destination, live: live)) {
                try await SQLiteBackup.backup(store: path, to: destination, overwrite: true, checkpointFile: checkpoint)
            }
        }
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber == inode, "the store is the same file")
        #expect(refusal(path, into: path, unsigned: true)?.contains("it is the store's own file") == true)
    }
}
