import Foundation
import GRDB
import HelpdeskCore

struct SQLiteSlackOutbox: SlackOutboxStore {
    let store: SQLiteStore

    static func enqueue(_ messages: [OutboxMessage], in db: Database, now: Date) throws {
        for message in messages {
            let due = now.addingTimeInterval(message.editGap?.seconds ?? 0)
            // A newer edit of a message with one pending replaces its body (and bumps its version,
            // so a send already under way leaves it pending); a repeated once_key queues nothing.
            try db.run("""
                    INSERT INTO slack_outbox (channel, method, body, thread_key, is_root, state, next_attempt_at, created_at, once_key,
                                              rendered, coalesce_key, edit_gap)
                    VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (channel, coalesce_key) WHERE state = 'pending' DO UPDATE SET body = excluded.body, rendered = excluded.rendered,
                        version = version + 1
                    ON CONFLICT DO NOTHING
                    """, [message.channel, message.method.rawValue, message.body.jsonText, message.threadKey, message.isRoot,
                            due.timeIntervalSince1970, now.timeIntervalSince1970, message.onceKey, message.rendered?.description,
                            message.coalesceKey, message.editGap?.seconds])
        }
    }

    func due(now: Date, lease: Duration, budgetPerMinute: Int) async throws -> [OutboxEntry] {
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
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT o.* FROM slack_outbox o
                WHERE o.id IN (SELECT MIN(id) FROM slack_outbox WHERE state = 'pending' GROUP BY channel)
                  AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until <= ?)
                ORDER BY o.id
                """), arguments: [seconds, seconds])
            var entries: [OutboxEntry] = []
            for row in rows {
                let id: Int64 = row["id"]
                let channel: String = row["channel"]
                // The channel's budget: past it, the head waits until the oldest send of the minute leaves the window.
                let sentInWindow = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT sent_at FROM slack_outbox WHERE channel = ? AND state = 'sent' AND sent_at > ? ORDER BY sent_at LIMIT ?
                    """), arguments: [channel, seconds - 60, budgetPerMinute])
                if sentInWindow.count >= budgetPerMinute, let oldest = sentInWindow.first?["sent_at"] as Double? {
                    try db.run("UPDATE slack_outbox SET next_attempt_at = ? WHERE id = ?", [oldest + 60, id])
                    continue
                }
                try db.run("UPDATE slack_outbox SET lease_until = ? WHERE id = ?", [seconds + lease.seconds, id])
                let key: String? = row["thread_key"]
                let threadTS = try key.flatMap { try String.fetchOne(db, sql: "SELECT ts FROM slack_threads WHERE thread_key = ?", arguments: [$0]) }
                entries.append(OutboxEntry(
                    id: id,
                    message: OutboxMessage(channel: channel, method: OutboxMessage.Method(rawValue: row["method"]) ?? .postMessage,
                                           body: (try? JSONValue(parsing: row["body"])) ?? .null, threadKey: key, isRoot: row["is_root"],
                                           rendered: (row["rendered"] as String?).flatMap(RenderedBody.init),
                                           editGap: (row["edit_gap"] as Double?).map { .seconds($0) }),
                    attempts: row["attempts"], threadTS: threadTS, version: row["version"]))
            }
            return entries
        }
    }

    func markSent(_ id: Int64, version: Int, ts: String?, now: Date) async throws {
        try await store.writer.write { db in
            guard let sent = try Row.fetchOne(db.cachedStatement(sql: "SELECT channel, method, thread_key, is_root, version, edit_gap FROM slack_outbox WHERE id = ?"), arguments: [id]) else { return }
            try SQLiteAuditLog.append([AuditDraft(kind: "message_sent", principal: nil, target: sent["channel"], data: .object([
                "via": .string("slack"), "method": .string(sent["method"]), "ts": ts.map(JSONValue.string) ?? .null,
                "thread": (sent["thread_key"] as String?).map(JSONValue.string) ?? .null, "outbox_id": .number(Double(id)),
            ]))], in: db, now: now)
            try db.run("UPDATE slack_outbox SET state = 'sent', ts = ?, sent_at = ?, lease_until = NULL WHERE id = ?", [ts, now.timeIntervalSince1970, id])
            if (sent["version"] as Int) != version {
                // A newer edit arrived while this one was on its way: it is queued again, after the gap
                // and at the back of the channel's line, so a storm's digest never holds the line.
                try Self.requeueNewerVersion(of: id, in: db, now: now)
            }
            if let ts, sent["is_root"] as Bool, let key = sent["thread_key"] as String? {
                try db.run("INSERT OR REPLACE INTO slack_threads (thread_key, channel, ts) VALUES (?, ?, ?)", [key, sent["channel"] as String, ts])
            }
        }
    }

    func retry(_ id: Int64, at: Date, error: String, countAttempt: Bool) async throws {
        try await store.writer.write { db in
            try db.run("""
                UPDATE slack_outbox SET next_attempt_at = ?, error = ?, lease_until = NULL, attempts = attempts + ? WHERE id = ?
                """, [at.timeIntervalSince1970, error, countAttempt ? 1 : 0, id])
        }
    }

    func markFailed(_ id: Int64, version: Int, error: String, now: Date) async throws {
        try await store.writer.write { db in
            try db.run("UPDATE slack_outbox SET state = 'failed', error = ?, lease_until = NULL, sent_at = ? WHERE id = ?", [error, now.timeIntervalSince1970, id])
            // The version that failed is not the newest: that one still goes (a storm's closing digest).
            if try Int.fetchOne(db.cachedStatement(sql: "SELECT version FROM slack_outbox WHERE id = ?"), arguments: [id]) != version {
                try Self.requeueNewerVersion(of: id, in: db, now: now)
            }
        }
    }

    /// Queues the newest body of a coalesced edit as a new pending message, `edit_gap` from now.
    static func requeueNewerVersion(of id: Int64, in db: Database, now: Date) throws {
        try db.run("""
            INSERT INTO slack_outbox (channel, method, body, thread_key, is_root, state, next_attempt_at, created_at, rendered, coalesce_key, edit_gap)
            SELECT channel, method, body, thread_key, is_root, 'pending', ? + COALESCE(edit_gap, 0), ?, rendered, coalesce_key, edit_gap
            FROM slack_outbox WHERE id = ?
            ON CONFLICT DO NOTHING
            """, [now.timeIntervalSince1970, now.timeIntervalSince1970, id])
    }

    func entries(channel: String?) async throws -> [(id: Int64, channel: String, state: String, ts: String?, error: String?)] {
        try await store.database.read { db in
            let rows = try channel.map { try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM slack_outbox WHERE channel = ? ORDER BY id"), arguments: [$0]) }
                ?? Row.fetchAll(db, sql: "SELECT * FROM slack_outbox ORDER BY id")
            return rows.map { (id: $0["id"], channel: $0["channel"], state: $0["state"], ts: $0["ts"], error: $0["error"]) }
        }
    }

    func threadRoot(_ key: String) async throws -> (channel: String, ts: String)? {
        try await store.database.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT channel, ts FROM slack_threads WHERE thread_key = ?"), arguments: [key]).map { ($0["channel"], $0["ts"]) }
        }
    }

    func waitForMessages(timeout: Duration) async {
        await store.outboxSignal.wait(timeout: timeout)
    }
}
