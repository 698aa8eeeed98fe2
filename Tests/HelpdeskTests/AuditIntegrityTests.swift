import Crypto
import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// The keyed audit chain and its signed checkpoints: what a writer of the store's database alone can no
/// longer do unnoticed. On SQLite and on PostgreSQL.
@Suite struct AuditIntegrityTests {
    static let k1 = AuditKey(id: "k1", secret: Secret("first-audit-key-0123456789"))
    static let k2 = AuditKey(id: "k2", secret: Secret("second-audit-key-0123456789"))

    /// A store of one kind, opened afresh for each step (with the audit keys of that step), and its
    /// audit rows reached behind its back as an attacker with write access to the database would.
    struct Log {
        let folder: TemporaryDirectory
        let location: TemporaryStoreLocation
        var checkpointPath: String { folder.file("hd.sqlite.audit-checkpoint") }

        init(_ kind: StoreKind) async throws {
            folder = try TemporaryDirectory()
            location = try await .fresh(kind, in: folder)
        }

        /// Opens the store with `keyring` attached, runs `body`, closes it.
        func with<T>(_ keyring: AuditKeyring?, _ body: (any Store) async throws -> T) async throws -> T {
            let store = try await location.open()
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
            try await location.execute(statements)
        }

        func keyIDs() async throws -> [String?] {
            try await location.query("SELECT key_id FROM audit_events ORDER BY seq").map { $0[0] }
        }

        /// What an attacker without the key can do: recompute every hash as plain SHA-256.
        func rehashWithoutKey(dropKeyIDs: Bool) async throws {
            let rows = try await location.query("SELECT seq, id, at_us, kind, principal, target, data FROM audit_events ORDER BY seq")
            var statements = dropKeyIDs ? ["UPDATE audit_events SET key_id = NULL"] : []
            var previous = AuditHashing.genesis
            for row in rows {
                let seq = try #require(row[0].flatMap { Int64($0) })
                let atMicroseconds = try #require(row[2].flatMap { Int64($0) })
                let (id, kind, data) = (try #require(row[1]), try #require(row[3]), try #require(row[6]))
                let hash = AuditHashing.hash(AuditHashing.canonical(
                    seq: seq, id: id, atMicroseconds: atMicroseconds, kind: kind, principal: row[4], target: row[5], data: data, prevHash: previous))
                // Hashes are lowercase hex: safe to write inline.
                statements.append("UPDATE audit_events SET prev_hash = '\(previous)', hash = '\(hash)' WHERE seq = \(seq)")
                previous = hash
            }
            try await sql(statements.joined(separator: ";\n"))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func withoutAKeyTheChainStaysPlainSHA256(kind: StoreKind) async throws {
        let log = try await Log(kind)
        defer { log.folder.remove() }
        try await log.append(3, nil)
        #expect(try await log.keyIDs() == [nil, nil, nil])
        let result = try await log.verify(nil)
        #expect(result.ok && result.checked == 3 && result.unkeyed == 3 && result.keyed == 0)
        #expect(AuditHashing.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test(arguments: StoreKind.allCases)
    func keyedEventsRecordTheirKeyAndVerifyOnlyWithIt(kind: StoreKind) async throws {
        let log = try await Log(kind)
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

    @Test(arguments: StoreKind.allCases)
    func eventsUnderTheOldAndNewKeyBothVerifyAfterARotation(kind: StoreKind) async throws {
        let log = try await Log(kind)
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

    @Test(arguments: StoreKind.allCases)
    func aChainReHashedWithoutTheKeyFailsAtItsFirstEvent(kind: StoreKind) async throws {
        let log = try await Log(kind)
        defer { log.folder.remove() }
        try await log.append(4, AuditKeyring(current: Self.k1))
        try await log.rehashWithoutKey(dropKeyIDs: false)
        let result = try await log.verify(AuditKeyring(current: Self.k1))
        #expect(!result.ok && result.brokenAt == 1 && result.problem?.contains("re-hashed without the key") == true)
    }

    @Test(arguments: StoreKind.allCases)
    func aChainPassedOffAsUnkeyedIsCaughtByTheCheckpointOrByFollowingKeyedEvents(kind: StoreKind) async throws {
        let log = try await Log(kind)
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
        let partial = try await Log(kind)
        defer { partial.folder.remove() }
        try await partial.append(3, keyring)
        try await partial.sql("UPDATE audit_events SET key_id = NULL WHERE seq = 3")
        let downgraded = try await partial.verify(keyring, checkpoint: .none)
        #expect(!downgraded.ok && downgraded.brokenAt == 3 && downgraded.problem?.contains("follows keyed events") == true)
    }

    @Test(arguments: StoreKind.allCases)
    func eventsDeletedFromTheEndAreReportedAgainstTheCheckpoint(kind: StoreKind) async throws {
        let log = try await Log(kind)
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

    @Test(arguments: StoreKind.allCases)
    func aForgedOrUnsignedCheckpointIsRefused(kind: StoreKind) async throws {
        let log = try await Log(kind)
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
