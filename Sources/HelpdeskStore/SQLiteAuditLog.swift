import Foundation
import GRDB
import HelpdeskCore

/// The audit log of ``SQLiteStore``. Appends happen inside the writer's transactions (which SQLite
/// serializes across processes too), reading the last hash and writing the next event in one go,
/// so the chain never forks. With an ``AuditChain`` attached, each event is sealed with its key.
struct SQLiteAuditLog: AuditLog {
    let store: SQLiteStore

    static func append(_ drafts: [AuditDraft], in db: Database, now: Date) throws {
        guard !drafts.isEmpty else { return }
        let chain = AuditChainRegistry.chain(forWriter: db)
        let (first, last) = try append(drafts, in: db, now: now, key: chain?.keyring.current)
        chain?.appended(from: first, through: last)
    }

    /// Appends sealed with `key` (plain SHA-256 without one), on a connection no chain is attached
    /// to (a restore's); returns the first and last seq written. `drafts` must not be empty.
    @discardableResult
    static func append(_ drafts: [AuditDraft], in db: Database, now: Date, key: AuditKey?) throws -> (first: Int64, last: Int64) {
        var last: (seq: Int64, hash: String) = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"))
            .map { (seq: $0["seq"] as Int64, hash: $0["hash"] as String) } ?? (seq: 0, hash: AuditHashing.genesis)
        let first = last.seq + 1
        let microseconds = Int64((now.timeIntervalSince1970 * 1_000_000).rounded())
        let insert = try db.cachedStatement(sql: """
            INSERT INTO audit_events (seq, id, at_us, kind, principal, target, data, prev_hash, hash, key_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for draft in drafts {
            let seq = last.seq + 1
            let id = "evt_" + String(seq, radix: 10) + "_" + randomToken(length: 6)
            let data = draft.dataText
            let hash: String
            if let key {
                hash = AuditHashing.keyedHash(key: key.key, keyID: key.id, seq: seq, id: id, atMicroseconds: microseconds, kind: draft.kind,
                                              principal: draft.principal, target: draft.target, data: data, prevHash: last.hash)
            } else {
                hash = AuditHashing.hash(AuditHashing.canonical(seq: seq, id: id, atMicroseconds: microseconds, literals: draft.literals,
                                                                prevHash: last.hash))
            }
            try insert.execute(arguments: [seq, id, microseconds, draft.kind, draft.principal, draft.target, data, last.hash, hash, key?.id])
            last = (seq, hash)
        }
        return (first, last.seq)
    }

    func events(since: Date?, limit: Int) async throws -> [AuditEvent] {
        try await store.database.read { db in
            let cutoff = Int64(((since?.timeIntervalSince1970 ?? 0) * 1_000_000).rounded())
            return try Row.fetchAll(db, sql: "SELECT * FROM audit_events WHERE at_us >= ? ORDER BY seq LIMIT ?", arguments: [cutoff, limit])
                .map(Self.event)
        }
    }

    func event(id: String) async throws -> AuditEvent? {
        try await store.database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM audit_events WHERE id = ?", arguments: [id]).map(Self.event)
        }
    }

    func head() async throws -> AuditHead? {
        try await store.database.read { db in
            try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                .map { AuditHead(seq: $0["seq"], hash: $0["hash"]) }
        }
    }

    func hash(at seq: Int64) async throws -> String? {
        try await store.database.read { db in
            try String.fetchOne(db, sql: "SELECT hash FROM audit_events WHERE seq = ?", arguments: [seq])
        }
    }

    /// Walks the chain in order (see ``AuditChainWalk``), then compares its end with the checkpoint.
    func verify(checkpoint source: AuditCheckpointSource) async throws -> AuditVerification {
        let chain = store.auditChain
        let keyring = chain?.keyring ?? AuditKeyring()
        var result = try await store.database.read { db in
            var walk = AuditChainWalk(keyring: keyring)
            let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM audit_events ORDER BY seq")
            while let row = try cursor.next() {
                if let broken = walk.check(row) { return broken }
            }
            return walk.result
        }
        let check: AuditCheckpointCheck?
        switch source {
        case .none:
            check = nil
        case .given(let checkpoint, let name):
            check = try await compare(checkpoint, source: name, keyring: keyring, lastSeq: result.lastSeq)
        case .configured:
            check = try await configuredCheck(chain, keyring: keyring, lastSeq: result.lastSeq)
        }
        result.checkpoint = check
        if let check, check.failed, result.ok {
            result.ok = false
            result.problem = check.message
        }
        return result
    }

    private func configuredCheck(_ chain: AuditChain?, keyring: AuditKeyring, lastSeq: Int64) async throws -> AuditCheckpointCheck? {
        guard let path = chain?.checkpointFile else { return nil }
        let stored: AuditCheckpoint?
        do {
            stored = try AuditCheckpoint.read(file: path)
        } catch {
            return AuditCheckpointCheck(status: .unreadable, source: path, message: error.description)
        }
        guard let stored else {
            return AuditCheckpointCheck(status: .absent, source: path, message: "no audit checkpoint at \(path) yet: " +
                                        "events deleted from the end of the log cannot be detected until the server writes one")
        }
        return try await compare(stored, source: path, keyring: keyring, lastSeq: lastSeq)
    }

    private func compare(_ checkpoint: AuditCheckpoint, source: String, keyring: AuditKeyring, lastSeq: Int64) async throws -> AuditCheckpointCheck {
        var check = AuditCheckpointCheck(status: .ok, source: source, seq: checkpoint.seq, at: checkpoint.at, keyID: checkpoint.keyID,
                                         message: "the log reaches the checkpoint of \(checkpoint.at) (seq \(checkpoint.seq)) and matches it")
        if let (status, message) = checkpoint.macProblem(keyring: keyring) {
            check.status = status
            check.message = message
        } else if lastSeq < checkpoint.seq {
            let missing = checkpoint.seq - lastSeq
            check.status = .missingEvents
            check.message = "the log ends at seq \(lastSeq) but a checkpoint of \(checkpoint.at) saw seq \(checkpoint.seq): " +
                "\(missing) event\(missing == 1 ? " is" : "s are") missing"
        } else if checkpoint.seq > 0, try await hash(at: checkpoint.seq) != checkpoint.hash {
            check.status = .rewritten
            check.message = "event \(checkpoint.seq) no longer has the hash the checkpoint of \(checkpoint.at) saw: " +
                "the log was rewritten after it"
        }
        return check
    }

    static func event(_ row: Row) -> AuditEvent {
        AuditEvent(seq: row["seq"], id: row["id"], at: Date(timeIntervalSince1970: Double(row["at_us"] as Int64) / 1_000_000), kind: row["kind"],
                   principal: row["principal"], target: row["target"], data: row["data"], prevHash: row["prev_hash"], hash: row["hash"],
                   keyID: row["key_id"])
    }
}
