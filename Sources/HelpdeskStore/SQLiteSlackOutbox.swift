import Foundation
import GRDB
import HelpdeskCore

struct SQLiteSlackOutbox: SlackOutboxStore {
    let store: SQLiteStore

    static func enqueue(_ messages: [OutboxMessage], in db: Database, now: Date) throws {
        for message in messages {
            try db.execute(
                sql: """
                    INSERT INTO slack_outbox (channel, method, body, thread_key, is_root, state, next_attempt_at, created_at, once_key)
                    VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT DO NOTHING
                    """,
                arguments: [message.channel, message.method.rawValue, message.body.jsonText, message.threadKey, message.isRoot,
                            now.timeIntervalSince1970, now.timeIntervalSince1970, message.onceKey])
        }
    }

    func due(now: Date, lease: Duration) async throws -> [OutboxEntry] {
        let seconds = now.timeIntervalSince1970
        // Polled twice a second: an idle outbox must not take the write lock.
        let anyDue = try await store.database.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM slack_outbox WHERE state = 'pending' AND next_attempt_at <= ?
                               AND (lease_until IS NULL OR lease_until <= ?))
                """, arguments: [seconds, seconds]) ?? false
        }
        guard anyDue else { return [] }
        return try await store.writer.write { db in
            // Head of each channel's line only: a later message never overtakes an earlier one.
            let rows = try Row.fetchAll(db, sql: """
                SELECT o.* FROM slack_outbox o
                WHERE o.id IN (SELECT MIN(id) FROM slack_outbox WHERE state = 'pending' GROUP BY channel)
                  AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until <= ?)
                ORDER BY o.id
                """, arguments: [seconds, seconds])
            var entries: [OutboxEntry] = []
            for row in rows {
                let id: Int64 = row["id"]
                try db.execute(sql: "UPDATE slack_outbox SET lease_until = ? WHERE id = ?", arguments: [seconds + lease.seconds, id])
                let key: String? = row["thread_key"]
                let threadTS = try key.flatMap { try String.fetchOne(db, sql: "SELECT ts FROM slack_threads WHERE thread_key = ?", arguments: [$0]) }
                entries.append(OutboxEntry(
                    id: id,
                    message: OutboxMessage(channel: row["channel"], method: OutboxMessage.Method(rawValue: row["method"]) ?? .postMessage,
                                           body: (try? JSONValue(parsing: row["body"])) ?? .null, threadKey: key, isRoot: row["is_root"]),
                    attempts: row["attempts"], threadTS: threadTS))
            }
            return entries
        }
    }

    func markSent(_ id: Int64, ts: String?, now: Date) async throws {
        try await store.writer.write { db in
            try db.execute(sql: "UPDATE slack_outbox SET state = 'sent', ts = ?, sent_at = ?, lease_until = NULL WHERE id = ?",
                           arguments: [ts, now.timeIntervalSince1970, id])
            if let sent = try Row.fetchOne(db, sql: "SELECT channel, method, thread_key FROM slack_outbox WHERE id = ?", arguments: [id]) {
                try SQLiteAuditLog.append([AuditDraft(kind: "message_sent", principal: nil, target: sent["channel"], data: .object([
                    "via": .string("slack"), "method": .string(sent["method"]), "ts": ts.map(JSONValue.string) ?? .null,
                    "thread": (sent["thread_key"] as String?).map(JSONValue.string) ?? .null, "outbox_id": .number(Double(id)),
                ]))], in: db, now: now)
            }
            if let ts, let row = try Row.fetchOne(db, sql: "SELECT channel, thread_key, is_root FROM slack_outbox WHERE id = ?", arguments: [id]),
               row["is_root"] as Bool, let key = row["thread_key"] as String? {
                try db.execute(sql: "INSERT OR REPLACE INTO slack_threads (thread_key, channel, ts) VALUES (?, ?, ?)",
                               arguments: [key, row["channel"] as String, ts])
            }
        }
    }

    func retry(_ id: Int64, at: Date, error: String, countAttempt: Bool) async throws {
        try await store.writer.write { db in
            try db.execute(sql: """
                UPDATE slack_outbox SET next_attempt_at = ?, error = ?, lease_until = NULL, attempts = attempts + ? WHERE id = ?
                """, arguments: [at.timeIntervalSince1970, error, countAttempt ? 1 : 0, id])
        }
    }

    func markFailed(_ id: Int64, error: String, now: Date) async throws {
        try await store.writer.write { db in
            try db.execute(sql: "UPDATE slack_outbox SET state = 'failed', error = ?, lease_until = NULL, sent_at = ? WHERE id = ?",
                           arguments: [error, now.timeIntervalSince1970, id])
        }
    }

    func entries(channel: String?) async throws -> [(id: Int64, channel: String, state: String, ts: String?, error: String?)] {
        try await store.database.read { db in
            let rows = try channel.map { try Row.fetchAll(db, sql: "SELECT * FROM slack_outbox WHERE channel = ? ORDER BY id", arguments: [$0]) }
                ?? Row.fetchAll(db, sql: "SELECT * FROM slack_outbox ORDER BY id")
            return rows.map { (id: $0["id"], channel: $0["channel"], state: $0["state"], ts: $0["ts"], error: $0["error"]) }
        }
    }

    func threadRoot(_ key: String) async throws -> (channel: String, ts: String)? {
        try await store.database.read { db in
            try Row.fetchOne(db, sql: "SELECT channel, ts FROM slack_threads WHERE thread_key = ?", arguments: [key]).map { ($0["channel"], $0["ts"]) }
        }
    }

    func waitForMessages(timeout: Duration) async {
        await store.outboxSignal.wait(timeout: timeout)
    }
}
