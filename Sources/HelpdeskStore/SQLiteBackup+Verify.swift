import Foundation
import GRDB
import HelpdeskCore

extension SQLiteBackup {
    /// Checks the backup open on `db` before it is restored: SQLite's integrity check, a schema this
    /// binary knows (an older one is fine: it is migrated like any store) made of exactly what its
    /// migrations create, an audit chain that verifies under `keyring`, and a head the manifest names.
    ///
    /// With an audit key configured, a log of plain SHA-256 events only is refused unless the
    /// manifest is signed: anyone can recompute such a chain. Plain events before the first keyed
    /// one (a store older than its key) are fine: the first keyed event's MAC seals them.
    static func verify(_ db: Database, path: String, keyring: AuditKeyring, manifest: BackupManifest?,
                       authenticity: BackupAuthenticity, sha256: String) throws -> BackupVerification {
        try integrityCheck(db, path: path)
        let schema = try SQLiteStore.schemaStatus(db)
        guard !schema.isNewer else { throw BackupError.newerSchema(path: path, unknownMigrations: schema.unknown) }
        guard schema.version > 0 else { throw BackupError.notAStore(path: path) }
        let differences = try schemaDifferences(db, applied: schema.applied)
        guard differences.isEmpty else { throw BackupError.unexpectedSchema(path: path, differences: differences) }
        var verification = BackupVerification(path: path, schema: schema, auditEvents: 0, auditHead: nil, authenticity: authenticity,
                                              manifest: manifest, sha256: sha256)
        if try db.tableExists("audit_events") {
            try checkAuditTypes(db, path: path)
            var walk = AuditChainWalk(keyring: keyring)
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM audit_events ORDER BY seq")
            while let row = try rows.next() {
                if let broken = walk.check(row) {
                    throw BackupError.auditBroken(path: path, seq: broken.brokenAt, problem: broken.problem ?? "the chain does not hold")
                }
            }
            let walked = walk.result
            if keyring.isKeyed, walked.keyed == 0, walked.unkeyed > 0, !isSigned(authenticity) {
                throw BackupError.auditBroken(path: path, seq: nil, problem: """
                    its \(walked.unkeyed) events are all plain SHA-256 while an audit key is configured, and no signed manifest \
                    vouches for them: anyone can write such a chain. If the backup predates the audit key, restore it with the \
                    key unset (HELPDESK_AUDIT_KEY, audit.key_file), then start the server with the key
                    """)
            }
            verification.auditEvents = walked.checked
            verification.auditHead = walk.head
        }
        if let manifest, !isUnsigned(authenticity) {
            let head = verification.auditHead ?? AuditHead(seq: 0, hash: AuditHashing.genesis)
            guard manifest.auditHeadSeq == head.seq, manifest.auditHeadHash == head.hash else {
                let other = manifest.auditHeadSeq == head.seq ? " with another hash" : ""
                throw BackupError.manifestRejected(path: path, problem: "it names audit event \(manifest.auditHeadSeq) as the last, " +
                                                   "the file ends at event \(head.seq)\(other)")
            }
            guard manifest.schemaVersion == schema.version, manifest.schemaMigration == schema.applied.last ?? "" else {
                throw BackupError.manifestRejected(path: path, problem: "it names schema \(manifest.schemaVersion), " +
                                                   "the file has \(schema.version)")
            }
        }
        return verification
    }

    /// A value of the wrong type would stop the walk (which reads each column as its type) with a
    /// crash instead of a refusal.
    private static func checkAuditTypes(_ db: Database, path: String) throws {
        let keyID = try db.columns(in: "audit_events").contains { $0.name == "key_id" }
        let wrong = try Int64.fetchOne(db, sql: """
            SELECT min(seq) FROM audit_events
            WHERE typeof(id) != 'text' OR typeof(at_us) != 'integer' OR typeof(kind) != 'text' OR typeof(data) != 'text'
               OR typeof(prev_hash) != 'text' OR typeof(hash) != 'text'
               OR typeof(principal) NOT IN ('text', 'null') OR typeof(target) NOT IN ('text', 'null')
               \(keyID ? "OR typeof(key_id) NOT IN ('text', 'null')" : "")
            """)
        if let wrong {
            throw BackupError.auditBroken(path: path, seq: wrong, problem: "a field holds a value of the wrong type (the event was edited)")
        }
    }

    /// Why restoring a log that ends at `head` would rewind the store whose checkpoint is at
    /// `checkpointFile`, or `nil`: the backup must reach the checkpoint's event, with its hash. A
    /// checkpoint that cannot be read or trusted cannot rule a rewind out either.
    static func rewindProblem(_ db: Database, head: AuditHead?, checkpointFile: String?, keyring: AuditKeyring) throws -> String? {
        guard let checkpointFile else { return nil }
        let checkpoint: AuditCheckpoint
        do {
            guard let stored = try AuditCheckpoint.read(file: checkpointFile) else { return nil }
            checkpoint = stored
        } catch {
            return "\(error), so it cannot be told which events the store had"
        }
        if let (_, message) = checkpoint.macProblem(keyring: keyring) {
            return "the store's audit checkpoint \(checkpointFile) cannot be trusted (\(message))"
        }
        let seq = head?.seq ?? 0
        if seq < checkpoint.seq {
            let lost = checkpoint.seq - seq
            return "the backup's audit log ends at event \(seq), but the store's checkpoint (\(checkpointFile), \(checkpoint.at)) " +
                "saw event \(checkpoint.seq): \(lost) event\(lost == 1 ? "" : "s") would be lost"
        }
        guard checkpoint.seq > 0 else { return nil }
        let hash = try String.fetchOne(db, sql: "SELECT hash FROM audit_events WHERE seq = ?", arguments: [checkpoint.seq])
        if hash != checkpoint.hash {
            return "event \(checkpoint.seq) in the backup is not the one the store's checkpoint (\(checkpointFile)) sealed: " +
                "the backup is not a copy of this store's log"
        }
        return nil
    }

    /// For reading a file nobody vouches for yet: read-only, and no SQL function from its schema
    /// (a view's, a trigger's) runs unless SQLite knows it is harmless. SQLite's defensive mode
    /// is only reachable through the variadic sqlite3_db_config, which Swift cannot call.
    static func untrustedConfiguration() -> Configuration {
        var configuration = readOnlyConfiguration()
        configuration.label = "helpdesk.restore.source"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA trusted_schema = OFF")
        }
        return configuration
    }

    private static func isSigned(_ authenticity: BackupAuthenticity) -> Bool {
        if case .signed = authenticity { return true }
        return false
    }

    private static func isUnsigned(_ authenticity: BackupAuthenticity) -> Bool {
        if case .unsigned = authenticity { return true }
        return false
    }
}
