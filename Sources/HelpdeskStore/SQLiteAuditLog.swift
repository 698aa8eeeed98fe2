import Foundation
import GRDB
import HelpdeskCore

/// The audit log of ``SQLiteStore``. Appends happen inside the writer's transactions (which SQLite
/// serializes across processes too), reading the last hash and writing the next event in one go,
/// so the chain never forks.
struct SQLiteAuditLog: AuditLog {
    let store: SQLiteStore

    static func append(_ drafts: [AuditDraft], in db: Database, now: Date) throws {
        guard !drafts.isEmpty else { return }
        var last: (seq: Int64, hash: String) = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .map { (seq: $0["seq"] as Int64, hash: $0["hash"] as String) } ?? (seq: 0, hash: AuditHashing.genesis)
        let microseconds = Int64((now.timeIntervalSince1970 * 1_000_000).rounded())
        for draft in drafts {
            let seq = last.seq + 1
            let id = "evt_" + String(seq, radix: 10) + "_" + randomToken(length: 6)
            let data = draft.data.jsonText
            let canonical = AuditHashing.canonical(seq: seq, id: id, atMicroseconds: microseconds, kind: draft.kind, principal: draft.principal,
                                                   target: draft.target, data: data, prevHash: last.hash)
            let hash = AuditHashing.hash(canonical)
            try db.execute(
                sql: "INSERT INTO audit_events (seq, id, at_us, kind, principal, target, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [seq, id, microseconds, draft.kind, draft.principal, draft.target, data, last.hash, hash])
            last = (seq, hash)
        }
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

    /// Walks the chain in order: each event's hash must match its fields, its `prev_hash` the
    /// event before, and its `seq` the next number. The first mismatch is where it was broken.
    func verify() async throws -> AuditVerification {
        try await store.database.read { db in
            var expectedPrev = AuditHashing.genesis
            var expectedSeq: Int64 = 1
            var checked = 0
            let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM audit_events ORDER BY seq")
            while let row = try cursor.next() {
                let seq: Int64 = row["seq"]
                let id: String = row["id"]
                func broken(_ problem: String) -> AuditVerification {
                    AuditVerification(ok: false, checked: checked, brokenAt: seq, brokenID: id, problem: problem)
                }
                if seq != expectedSeq {
                    return broken(seq > expectedSeq ? "events \(expectedSeq)…\(seq - 1) are missing (deleted)" : "sequence number \(seq) repeats or goes back")
                }
                let prevHash: String = row["prev_hash"]
                if prevHash != expectedPrev {
                    return broken("its prev_hash does not match the event before it (an event was inserted, deleted or reordered)")
                }
                let canonical = AuditHashing.canonical(seq: seq, id: id, atMicroseconds: row["at_us"], kind: row["kind"], principal: row["principal"],
                                                       target: row["target"], data: row["data"], prevHash: prevHash)
                let hash = AuditHashing.hash(canonical)
                let stored: String = row["hash"]
                if hash != stored {
                    return broken("its contents do not match its hash (the event was edited)")
                }
                expectedPrev = stored
                expectedSeq += 1
                checked += 1
            }
            return AuditVerification(ok: true, checked: checked, brokenAt: nil, brokenID: nil, problem: nil)
        }
    }

    static func event(_ row: Row) -> AuditEvent {
        AuditEvent(seq: row["seq"], id: row["id"], at: Date(timeIntervalSince1970: Double(row["at_us"] as Int64) / 1_000_000), kind: row["kind"],
                   principal: row["principal"], target: row["target"], data: row["data"], prevHash: row["prev_hash"], hash: row["hash"])
    }
}
