import Crypto
import Foundation
import GRDB
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// The keyed audit chain and its signed checkpoints: what a writer of the store file alone can no
/// longer do unnoticed.
@Suite struct AuditIntegrityTests {
    static let k1 = AuditKey(id: "k1", secret: Secret("first-audit-key-0123456789"))
    static let k2 = AuditKey(id: "k2", secret: Secret("second-audit-key-0123456789"))

    struct Log {
        let folder: TemporaryDirectory
        var path: String { folder.file("hd.sqlite") }
        var checkpointPath: String { folder.file("hd.sqlite.audit-checkpoint") }

        init() throws { folder = try TemporaryDirectory() }

        /// Opens the store with `keyring` attached, runs `body`, closes it.
        func with<T>(_ keyring: AuditKeyring?, _ body: (SQLiteStore) async throws -> T) async throws -> T {
            let store = try SQLiteStore(options: .init(path: path))
            if let keyring { store.attachAuditChain(AuditChain(keyring: keyring, checkpointFile: checkpointPath, checkpointEvery: 2)) }
            do {
                let result = try await body(store)
                try await store.close()
                return result
            } catch {
                try? await store.close()
                throw error
            }
        }

        func append(_ count: Int, _ keyring: AuditKeyring?) async throws {
            try await with(keyring) { store in
                for index in 0..<count {
                    try await store.apply(ChangeSet(audit: [AuditDraft(kind: "tool_call", principal: "bob", target: "prod-db",
                                                                        data: .object(["n": .number(Double(index)), "tool": .string("cancel_query")]))]))
                }
            }
        }

        func verify(_ keyring: AuditKeyring?, checkpoint: AuditCheckpointSource = .configured) async throws -> AuditVerification {
            try await with(keyring) { try await $0.audit.verify(checkpoint: checkpoint) }
        }

        func sql(_ statements: String) async throws {
            try await DatabaseQueue(path: path).write { db in try db.execute(sql: statements) }
        }

        func keyIDs() async throws -> [String?] {
            try await DatabaseQueue(path: path).read { db in try String?.fetchAll(db, sql: "SELECT key_id FROM audit_events ORDER BY seq") }
        }

        /// What an attacker without the key can do: recompute every hash as plain SHA-256.
        func rehashWithoutKey(dropKeyIDs: Bool) async throws {
            try await DatabaseQueue(path: path).write { db in
                if dropKeyIDs { try db.execute(sql: "UPDATE audit_events SET key_id = NULL") }
                var previous = AuditHashing.genesis
                for row in try Row.fetchAll(db, sql: "SELECT * FROM audit_events ORDER BY seq") {
                    let hash = AuditHashing.hash(AuditHashing.canonical(
                        seq: row["seq"], id: row["id"], atMicroseconds: row["at_us"], kind: row["kind"], principal: row["principal"],
                        target: row["target"], data: row["data"], prevHash: previous))
                    try db.execute(sql: "UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?", arguments: [previous, hash, row["seq"]])
                    previous = hash
                }
            }
        }
    }

    @Test func withoutAKeyTheChainStaysPlainSHA256() async throws {
        let log = try Log()
        defer { log.folder.remove() }
        try await log.append(3, nil)
        #expect(try await log.keyIDs() == [nil, nil, nil])
        let result = try await log.verify(nil)
        #expect(result.ok && result.checked == 3 && result.unkeyed == 3 && result.keyed == 0)
        #expect(AuditHashing.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func keyedEventsRecordTheirKeyAndVerifyOnlyWithIt() async throws {
        let log = try Log()
        defer { log.folder.remove() }
        try await log.append(2, nil)  // written before the key was set
        try await log.append(3, AuditKeyring(current: Self.k1))
        #expect(try await log.keyIDs() == [nil, nil, "k1", "k1", "k1"])
        let keyed = try await log.verify(AuditKeyring(current: Self.k1))
        #expect(keyed.ok && keyed.keyed == 3 && keyed.unkeyed == 2)

        let withoutKey = try await log.verify(nil)
        #expect(!withoutKey.ok && withoutKey.brokenAt == 3 && withoutKey.unverifiableKeyID == "k1")
        #expect(withoutKey.problem?.contains("\"k1\"") == true)
        let wrongSecret = AuditKey(id: "k1", secret: Secret("not-the-audit-key-000000"))
        let forged = try await log.verify(AuditKeyring(current: wrongSecret))
        #expect(!forged.ok && forged.brokenAt == 3 && forged.problem?.contains("HMAC") == true)
    }

    @Test func eventsUnderTheOldAndNewKeyBothVerifyAfterARotation() async throws {
        let log = try Log()
        defer { log.folder.remove() }
        try await log.append(2, AuditKeyring(current: Self.k1))
        let rotated = AuditKeyring(current: Self.k2, previous: Self.k1)
        try await log.append(2, rotated)
        #expect(try await log.keyIDs() == ["k1", "k1", "k2", "k2"])
        let result = try await log.verify(rotated)
        #expect(result.ok && result.keyed == 4)
        let oldKeyDropped = try await log.verify(AuditKeyring(current: Self.k2))
        #expect(!oldKeyDropped.ok && oldKeyDropped.brokenAt == 1 && oldKeyDropped.unverifiableKeyID == "k1")
    }

    @Test func aChainReHashedWithoutTheKeyFailsAtItsFirstEvent() async throws {
        let log = try Log()
        defer { log.folder.remove() }
        try await log.append(4, AuditKeyring(current: Self.k1))
        try await log.rehashWithoutKey(dropKeyIDs: false)
        let result = try await log.verify(AuditKeyring(current: Self.k1))
        #expect(!result.ok && result.brokenAt == 1 && result.problem?.contains("re-hashed without the key") == true)
    }

    @Test func aChainPassedOffAsUnkeyedIsCaughtByTheCheckpointOrByFollowingKeyedEvents() async throws {
        let log = try Log()
        defer { log.folder.remove() }
        let keyring = AuditKeyring(current: Self.k1)
        try await log.append(4, keyring)
        try await log.with(keyring) { store in
            let head = try #require(try await store.audit.head())
            try AuditCheckpoint.sign(head, at: Date(), keyring: keyring).write(to: log.checkpointPath)
        }
        try await log.rehashWithoutKey(dropKeyIDs: true)
        let result = try await log.verify(keyring)
        #expect(!result.ok && result.checkpoint?.status == .rewritten)

        // Only the events after a keyed one dropped to plain SHA-256: the chain itself says so.
        let partial = try Log()
        defer { partial.folder.remove() }
        try await partial.append(3, keyring)
        try await partial.sql("UPDATE audit_events SET key_id = NULL WHERE seq = 3")
        let downgraded = try await partial.verify(keyring, checkpoint: .none)
        #expect(!downgraded.ok && downgraded.brokenAt == 3 && downgraded.problem?.contains("follows keyed events") == true)
    }

    @Test func eventsDeletedFromTheEndAreReportedAgainstTheCheckpoint() async throws {
        let log = try Log()
        defer { log.folder.remove() }
        let keyring = AuditKeyring(current: Self.k1)
        try await log.append(10, keyring)
        let checkpoint = try await log.with(keyring) { store in
            AuditCheckpoint.sign(try #require(try await store.audit.head()), at: Date(), keyring: keyring)
        }
        try checkpoint.write(to: log.checkpointPath)
        #expect(try await log.verify(keyring).ok)
        #expect(try await log.verify(keyring).checkpoint?.status == .ok)

        try await log.sql("DELETE FROM audit_events WHERE seq > 7")
        let chainOnly = try await log.verify(keyring, checkpoint: .none)
        #expect(chainOnly.ok, "the chain alone cannot see deletions from its end")
        let result = try await log.verify(keyring)
        #expect(!result.ok && result.checkpoint?.status == .missingEvents)
        #expect(result.problem == "the log ends at seq 7 but a checkpoint of \(checkpoint.at) saw seq 10: 3 events are missing")
    }

    @Test func aForgedOrUnsignedCheckpointIsRefused() async throws {
        let log = try Log()
        defer { log.folder.remove() }
        let keyring = AuditKeyring(current: Self.k1)
        try await log.append(5, keyring)
        let genuine = try await log.with(keyring) { store in
            AuditCheckpoint.sign(try #require(try await store.audit.head()), at: Date(), keyring: keyring)
        }
        var rolledBack = genuine
        rolledBack.seq = 3  // claims the log was shorter, with the MAC left as it was
        var otherKey = AuditCheckpoint.sign(AuditHead(seq: 5, hash: genuine.hash), at: Date(),
                                            keyring: AuditKeyring(current: AuditKey(id: "k1", secret: Secret("guessed-key-000000000"))))
        let unsigned = AuditCheckpoint.sign(AuditHead(seq: 2, hash: genuine.hash), at: Date(), keyring: AuditKeyring())
        let expectations: [(AuditCheckpoint, AuditCheckpointCheck.Status)] = [
            (genuine, .ok), (rolledBack, .badMAC), (otherKey, .badMAC), (unsigned, .unsigned),
        ]
        for (checkpoint, status) in expectations {
            let result = try await log.verify(keyring, checkpoint: .given(checkpoint, source: "test"))
            #expect(result.checkpoint?.status == status, "\(checkpoint.line)")
            #expect(result.ok == (status == .ok))
        }
        otherKey.keyID = "k9"
        let unknown = try await log.verify(keyring, checkpoint: .given(otherKey, source: "test"))
        #expect(unknown.checkpoint?.status == .unknownKey && unknown.problem?.contains("\"k9\"") == true)
    }

    @Test func checkpointsReadBackFromTheFileTheLogLineAndAnExport() throws {
        let checkpoint = AuditCheckpoint.sign(AuditHead(seq: 57, hash: String(repeating: "ab", count: 32)), at: Date(),
                                              keyring: AuditKeyring(current: Self.k1))
        #expect(checkpoint.line.hasPrefix("audit checkpoint seq=57 hash=abab"))
        #expect(AuditCheckpoint.parse(checkpoint.line) == checkpoint)
        #expect(AuditCheckpoint.parse("2026-11-25T10:00:00Z info helpdesk: \(checkpoint.line)\n") == checkpoint)
        #expect(AuditCheckpoint.parse("{\"seq\":1}\n\(checkpoint.jsonLine)\n\n") == checkpoint)
        #expect(AuditCheckpoint.parse("{\"seq\":1}") == nil)
        #expect(AuditCheckpoint.parse("audit checkpoint seq=x") == nil)
    }

    @Test func configurationReadsKeysFromTheEnvironmentAndRefusesHalfARotation() throws {
        let environment = ["HELPDESK_AUDIT_KEY": "0123456789abcdef-new", "HELPDESK_AUDIT_PREVIOUS_KEY": "0123456789abcdef-old"]
        let audit = try HelpdeskConfiguration(yaml: "audit: {key_id: k2, previous_key_id: k1, checkpoint_every: 5}", file: "t.yaml",
                                              environment: environment).audit
        #expect(audit.key?.reveal() == "0123456789abcdef-new" && audit.keyID == "k2" && audit.previousKeyID == "k1")
        #expect(audit.checkpointEvery == 5 && audit.checkpointPath(storePath: "/var/hd.sqlite") == "/var/hd.sqlite.audit-checkpoint")
        let defaults = try HelpdeskConfiguration(yaml: "", file: "t.yaml").audit
        #expect(defaults.key == nil && defaults.keyID == "k1" && defaults.checkpointEvery == 100)
        for (yaml, environment) in [("audit: {key_id: k2}", ["HELPDESK_AUDIT_KEY": "short"]),
                                    ("audit: {previous_key_id: k1}", ["HELPDESK_AUDIT_KEY": "0123456789abcdef"]),
                                    ("audit: {key_id: k1, previous_key_id: k1}", environment),
                                    ("audit: {key_id: none}", [:]), ("audit: {key: inline}", [:])] {
            #expect(throws: ConfigError.self, "\(yaml)") {
                _ = try HelpdeskConfiguration(yaml: yaml, file: "t.yaml", environment: environment)
            }
        }
    }
}
