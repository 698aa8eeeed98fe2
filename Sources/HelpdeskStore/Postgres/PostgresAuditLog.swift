import Foundation
import HelpdeskCore
import Logging
import PostgresNIO

/// Appends to the audit chain inside the caller's transaction: the twin of ``SQLiteAuditLog/append(_:in:now:)``.
/// SQLite's single writer orders appends; here the `helpdesk.audit` advisory lock does, held to COMMIT, so
/// each replica reads the head the previous append committed and the chain never forks.
enum PostgresAuditAppend {
    /// Also taken by ``PostgresOutboxEnqueue`` and the outbox's writes: see there why.
    static let lockName = "helpdesk.audit"
    /// Ten parameters a row, well under PostgreSQL's 65,535 a statement.
    static let rowsPerInsert = 1_000

    static func append(_ drafts: [AuditDraft], on connection: PostgresConnection, now: Date, chain: AuditChain?,
                       logger: Logger) async throws {
        guard !drafts.isEmpty else { return }
        try await connection.lock(lockName, logger)
        // Read after the lock, so this statement's snapshot holds every event committed before it.
        var last: (seq: Int64, hash: String) = (0, AuditHashing.genesis)
        if let head = try await connection.row("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1", logger) {
            last = (try head["seq"].decode(Int64.self), try head["hash"].decode(String.self))
        }
        let first = last.seq + 1
        let microseconds = Int64((now.timeIntervalSince1970 * 1_000_000).rounded())
        let key = chain?.keyring.current
        var start = drafts.startIndex
        while start < drafts.endIndex {
            let end = min(start + rowsPerInsert, drafts.endIndex)
            var sql = "INSERT INTO audit_events (seq, id, at_us, kind, principal, target, data, prev_hash, hash, key_id) VALUES "
            var binds = PostgresBindings(capacity: (end - start) * 10)
            for (offset, draft) in drafts[start..<end].enumerated() {
                let seq = last.seq + 1
                let id = "evt_" + String(seq, radix: 10) + "_" + randomToken(length: 6)
                let hash: String
                if let key {
                    hash = AuditHashing.keyedHash(key: key.key, keyID: key.id, seq: seq, id: id, atMicroseconds: microseconds,
                                                  kind: draft.kind, principal: draft.principal, target: draft.target,
                                                  data: draft.dataText, prevHash: last.hash)
                } else {
                    hash = AuditHashing.hash(AuditHashing.canonical(seq: seq, id: id, atMicroseconds: microseconds,
                                                                    literals: draft.literals, prevHash: last.hash))
                }
                let base = offset * 10
                sql += (offset == 0 ? "(" : ", (") + (1...10).map { "$\(base + $0)" }.joined(separator: ", ") + ")"
                binds.append(seq)
                binds.append(id)
                binds.append(microseconds)
                binds.append(draft.kind)
                binds.append(draft.principal)
                binds.append(draft.target)
                binds.append(draft.dataText)
                binds.append(last.hash)
                binds.append(hash)
                binds.append(key?.id)
                last = (seq, hash)
            }
            // Only placeholders are spliced into the text; every value is bound.
            try await connection.run(PostgresQuery(unsafeSQL: sql, binds: binds), logger)
            start = end
        }
        chain?.appended(from: first, through: last.seq)
    }
}

/// The audit log of ``PostgresStore``: reads, and verification streamed over one snapshot.
struct PostgresAuditLog: AuditLog {
    let store: PostgresStore

    static let columns = "seq, id, at_us, kind, principal, target, data, prev_hash, hash, key_id"

    func events(since: Date?, limit: Int) async throws -> [AuditEvent] {
        let cutoff = Int64(((since?.timeIntervalSince1970 ?? 0) * 1_000_000).rounded())
        // SQLite reads a negative LIMIT as none; PostgreSQL rejects it, and reads NULL as none.
        let limit: Int? = limit < 0 ? nil : limit
        let logger = store.logger
        return try await store.read { connection in
            try await connection.rows("""
                SELECT \(unescaped: Self.columns) FROM audit_events WHERE at_us >= \(cutoff) ORDER BY seq LIMIT \(limit)
                """, logger).map(Self.event)
        }
    }

    func events(afterSeq seq: Int64, limit: Int) async throws -> [AuditEvent] {
        let limit = max(0, limit)
        let logger = store.logger
        return try await store.read { connection in
            try await connection.rows("""
                SELECT \(unescaped: Self.columns) FROM audit_events WHERE seq > \(seq) ORDER BY seq LIMIT \(limit)
                """, logger).map(Self.event)
        }
    }

    func latest(_ filter: AuditFilter, limit: Int) async throws -> [AuditEvent] {
        let query = Self.latestQuery(filter, limit: limit)
        let logger = store.logger
        return try await store.read { connection in
            try await connection.rows(query, logger).map(Self.event)
        }
    }

    /// ``latest(_:limit:)``'s statement, for the plan test too. PostgresNIO binds parameters to an unnamed
    /// statement, planned with their values; an indexed lookup always names a kind other than requests,
    /// which already implies the partial index's WHERE here (SQLite needs the term spelled out, and it is
    /// kept for the same reading). The other lookups: see AuditFilter.principalScanWindow.
    static func latestQuery(_ filter: AuditFilter, limit: Int) -> PostgresQuery {
        let (principal, kind, target, before) = (filter.principal, filter.kind, filter.target, filter.beforeSeq)
        let limit = max(0, limit)
        let window: Int64? = filter.scansByPrincipal ? AuditFilter.principalScanWindow : nil
        let indexed = filter.principal != nil && !filter.scansByPrincipal
        return """
            SELECT \(unescaped: Self.columns) FROM audit_events
            WHERE (\(principal)::text IS NULL OR principal = \(principal))
              AND (\(kind)::text IS NULL OR kind = \(kind))
              AND (\(target)::text IS NULL OR target = \(target))
              AND (\(before)::bigint IS NULL OR seq < \(before))
              AND (NOT \(indexed) OR kind <> 'request_received')
              AND (\(window)::bigint IS NULL
                   OR seq >= COALESCE(\(before)::bigint, (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_events)) - \(window))
            ORDER BY seq DESC LIMIT \(limit)
            """
    }

    func event(id: String) async throws -> AuditEvent? {
        let logger = store.logger
        return try await store.read { connection in
            try await connection.row("SELECT \(unescaped: Self.columns) FROM audit_events WHERE id = \(id)", logger).map(Self.event)
        }
    }

    func head() async throws -> AuditHead? {
        let logger = store.logger
        return try await store.read { connection in
            try await connection.row("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1", logger).map { row in
                AuditHead(seq: try row["seq"].decode(Int64.self), hash: try row["hash"].decode(String.self))
            }
        }
    }

    func hash(at seq: Int64) async throws -> String? {
        let logger = store.logger
        return try await store.read { connection in
            try await connection.row("SELECT hash FROM audit_events WHERE seq = \(seq)", logger).map { try $0["hash"].decode(String.self) }
        }
    }

    /// Walks the chain in order (see ``AuditChainWalk``), then compares its end with the checkpoint.
    func verify(checkpoint source: AuditCheckpointSource) async throws -> AuditVerification {
        let chain = store.auditChain
        let keyring = chain?.keyring ?? AuditKeyring()
        let logger = store.logger
        // A long log takes a while: no statement timeout for this walk (read-only; it holds no lock anyone waits for).
        let result = try await store.transaction(timeout: .seconds(6 * 3600)) { connection -> AuditVerification in
            try await connection.run("SET LOCAL statement_timeout = 0", logger)
            var walk = AuditChainWalk(keyring: keyring)
            // Streamed with back-pressure, as SQLite's cursor: the log is never in memory at once. Returning
            // early drops the stream, and postgres-nio drains the rest before the connection is reused.
            let rows = try await connection.query("SELECT \(unescaped: Self.columns) FROM audit_events ORDER BY seq", logger: logger)
            for try await row in rows {
                let (seq, id, atMicroseconds, kind, principal, target, data, prevHash, hash, keyID) = try row.decode(
                    (Int64, String, Int64, String, String?, String?, String, String, String, String?).self)
                if let broken = walk.check(seq: seq, id: id, atMicroseconds: atMicroseconds, kind: kind, principal: principal,
                                           target: target, data: data, prevHash: prevHash, hash: hash, keyID: keyID) {
                    return broken
                }
            }
            return walk.result
        }
        return try await comparingCheckpoint(result, source: source, chain: chain, keyring: keyring)
    }

    static func event(_ row: PostgresRandomAccessRow) throws -> AuditEvent {
        AuditEvent(seq: try row["seq"].decode(Int64.self), id: try row["id"].decode(String.self),
                   at: Date(timeIntervalSince1970: Double(try row["at_us"].decode(Int64.self)) / 1_000_000),
                   kind: try row["kind"].decode(String.self), principal: try row["principal"].decode(String?.self),
                   target: try row["target"].decode(String?.self), data: try row["data"].decode(String.self),
                   prevHash: try row["prev_hash"].decode(String.self), hash: try row["hash"].decode(String.self),
                   keyID: try row["key_id"].decode(String?.self))
    }
}
