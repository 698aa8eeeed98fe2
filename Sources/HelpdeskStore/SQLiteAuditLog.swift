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
        // Both statements are prepared and kept by GRDB but bound and stepped through SQLite's own calls
        // (see RawStatement): GRDB's rows, cursors and argument boxes were a fifth of this append's cost,
        // inside the single write section.
        var last: (seq: Int64, hash: String) = (seq: 0, hash: AuditHashing.genesis)
        let latest = try RawStatement(db.cachedStatement(sql: "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"), in: db)
        if try latest.step() { last = (seq: latest.int64(at: 0), hash: latest.text(at: 1)) }
        latest.reset()
        let first = last.seq + 1
        // Ids only: drawn inside the single writer, where a getrandom call each was a tenth of an append.
        var pooledRandom = PooledSystemRandom()
        let microseconds = Int64((now.timeIntervalSince1970 * 1_000_000).rounded())
        let insert = try RawStatement(db.cachedStatement(sql: """
            INSERT INTO audit_events (seq, id, at_us, kind, principal, target, data, prev_hash, hash, key_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """), in: db)
        for draft in drafts {
            let seq = last.seq + 1
            let id = "evt_" + String(seq, radix: 10) + "_" + randomToken(length: 6, using: &pooledRandom)
            let data = draft.dataText
            let hash: String
            if let key {
                hash = AuditHashing.keyedHash(key: key.key, keyID: key.id, seq: seq, id: id, atMicroseconds: microseconds, kind: draft.kind,
                                              principal: draft.principal, target: draft.target, data: data, prevHash: last.hash)
            } else {
                hash = AuditHashing.hash(AuditHashing.canonical(seq: seq, id: id, atMicroseconds: microseconds, literals: draft.literals,
                                                                prevHash: last.hash))
            }
            try insert.bind(seq, at: 1)
            try insert.bind(id, at: 2)
            try insert.bind(microseconds, at: 3)
            try insert.bind(draft.kind, at: 4)
            try insert.bind(draft.principal, at: 5)
            try insert.bind(draft.target, at: 6)
            try insert.bind(data, at: 7)
            try insert.bind(last.hash, at: 8)
            try insert.bind(hash, at: 9)
            try insert.bind(key?.id, at: 10)
            defer { insert.reset() }
            _ = try insert.step()
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

    func events(afterSeq seq: Int64, limit: Int) async throws -> [AuditEvent] {
        try await store.database.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?"),
                             arguments: [seq, max(0, limit)]).map(Self.event)
        }
    }

    func latest(_ filter: AuditFilter, limit: Int) async throws -> [AuditEvent] {
        let (sql, arguments) = Self.latestQuery(filter, limit: limit)
        return try await store.database.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.event)
        }
    }

    /// The statement behind ``latest(_:limit:)``: only the conditions asked for, so an unfiltered read
    /// walks the primary key backwards.
    static func latestQuery(_ filter: AuditFilter, limit: Int) -> (sql: String, arguments: StatementArguments) {
        var conditions = ["1 = 1"]
        var arguments: StatementArguments = []
        for (column, value) in [("principal", filter.principal), ("kind", filter.kind), ("target", filter.target)] {
            guard let value else { continue }
            conditions.append("\(column) = ?")
            arguments += [value]
        }
        if filter.principal != nil, !filter.scansByPrincipal {
            // Written out as in the partial index's WHERE (v19): SQLite uses that index only then.
            conditions.append("kind <> '\(AuditFilter.unindexedByPrincipal)'")
        }
        if let before = filter.beforeSeq {
            conditions.append("seq < ?")
            arguments += [before]
        }
        if filter.scansByPrincipal {
            // A bounded walk back along the primary key (see AuditFilter.principalScanWindow); NOT INDEXED,
            // or the index by kind would read every request ever made and sort them.
            if let before = filter.beforeSeq {
                conditions.append("seq >= ?")
                arguments += [before - AuditFilter.principalScanWindow]
            } else {
                conditions.append("seq > (SELECT COALESCE(MAX(seq), 0) FROM audit_events) - ?")
                arguments += [AuditFilter.principalScanWindow]
            }
        }
        arguments += [max(0, limit)]
        let table = filter.scansByPrincipal ? "audit_events NOT INDEXED" : "audit_events"
        return ("SELECT * FROM \(table) WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq DESC LIMIT ?", arguments)
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
        let result = try await store.database.read { db in
            var walk = AuditChainWalk(keyring: keyring)
            let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM audit_events ORDER BY seq")
            while let row = try cursor.next() {
                if let broken = walk.check(row) { return broken }
            }
            return walk.result
        }
        return try await comparingCheckpoint(result, source: source, chain: chain, keyring: keyring)
    }

    static func event(_ row: Row) -> AuditEvent {
        AuditEvent(seq: row["seq"], id: row["id"], at: Date(timeIntervalSince1970: Double(row["at_us"] as Int64) / 1_000_000), kind: row["kind"],
                   principal: row["principal"], target: row["target"], data: row["data"], prevHash: row["prev_hash"], hash: row["hash"],
                   keyID: row["key_id"])
    }
}
