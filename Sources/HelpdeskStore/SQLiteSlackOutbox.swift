import Foundation
import GRDB
import HelpdeskCore

struct SQLiteSlackOutbox: SlackOutboxStore {
    let store: SQLiteStore

    /// `origin`: ``WorkOrigin/storedText`` of the request and span queuing them, kept for their send.
    static func enqueue(_ messages: [OutboxMessage], in db: Database, now: Date, origin: String? = nil) throws {
        for message in messages {
            if message.channel == OutboxMessage.webChannel {
                try deliverToWeb(message, in: db, now: now)
                continue
            }
            let due = now.addingTimeInterval(message.editGap?.seconds ?? 0)
            // A newer edit of a message with one pending replaces its body (and bumps its version,
            // so a send already under way leaves it pending); a repeated once_key queues nothing.
            try db.run("""
                    INSERT INTO slack_outbox (channel, method, body, thread_key, is_root, state, next_attempt_at, created_at, once_key,
                                              rendered, coalesce_key, edit_gap, origin)
                    VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (channel, coalesce_key) WHERE state = 'pending' DO UPDATE SET body = excluded.body, rendered = excluded.rendered,
                        version = version + 1, origin = excluded.origin
                    ON CONFLICT DO NOTHING
                    """, [message.channel, message.method.rawValue, message.body.jsonText, message.threadKey, message.isRoot,
                            due.timeIntervalSince1970, now.timeIntervalSince1970, message.onceKey, message.rendered?.description,
                            message.coalesceKey, message.editGap?.seconds, origin])
        }
    }

    /// The web channel reads the outbox itself: a post is delivered as it is stored, and an edit
    /// changes its root in place (so a storm's digest edits add no rows).
    static func deliverToWeb(_ message: OutboxMessage, in db: Database, now: Date) throws {
        let seconds = now.timeIntervalSince1970
        switch message.method {
        case .update:
            guard let key = message.threadKey else { return }
            try db.run("""
                UPDATE slack_outbox SET body = ?, rendered = ?, version = version + 1, sent_at = ?
                WHERE id = (SELECT id FROM slack_outbox WHERE thread_key = ? AND channel = ? AND is_root = 1 ORDER BY id DESC LIMIT 1)
                """, [message.body.jsonText, message.rendered?.description, seconds, key, OutboxMessage.webChannel])
        case .postMessage, .postEphemeral:
            try db.run("""
                INSERT INTO slack_outbox (channel, method, body, thread_key, is_root, state, next_attempt_at, created_at, once_key,
                                          rendered, sent_at)
                VALUES (?, ?, ?, ?, ?, 'sent', ?, ?, ?, ?, ?)
                ON CONFLICT DO NOTHING
                """, [message.channel, message.method.rawValue, message.body.jsonText, message.threadKey, message.isRoot,
                        seconds, seconds, message.onceKey, message.rendered?.description, seconds])
            // Delivered as stored: recorded as a Slack send is, in the same transaction.
            if db.changesCount > 0 {
                try SQLiteAuditLog.append([webDelivery(message, id: db.lastInsertedRowID)], in: db, now: now)
            }
        }
    }

    /// The `message_sent` event of a web channel post (a Slack send records its own when Slack answers).
    static func webDelivery(_ message: OutboxMessage, id: Int64) -> AuditDraft {
        AuditDraft(kind: "message_sent", principal: nil, target: message.channel, data: .object([
            "via": .string("web"), "method": .string(message.method.rawValue),
            "thread": message.threadKey.map(JSONValue.string) ?? .null, "outbox_id": .number(Double(id)),
        ]))
    }

    func feed(limit: Int) async throws -> [FeedEntry] {
        try await store.database.read { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT id, channel, thread_key, is_root, body, rendered, created_at FROM slack_outbox
                WHERE method = 'chat.postMessage' ORDER BY id DESC LIMIT ?
                """), arguments: [max(0, limit)])
            return try rows.map { row in
                var entry = FeedEntry(id: row["id"], channel: row["channel"], threadKey: row["thread_key"], isRoot: row["is_root"],
                                      body: (try? JSONValue(parsing: row["body"])) ?? .null,
                                      rendered: (row["rendered"] as String?).flatMap(RenderedBody.init),
                                      createdAt: Date(timeIntervalSince1970: row["created_at"]))
                // A Slack channel's root keeps its first body; its edits are rows of their own.
                if entry.isRoot, entry.channel != OutboxMessage.webChannel, let key = entry.threadKey,
                   let edit = try Row.fetchOne(db.cachedStatement(sql: """
                       SELECT body, rendered FROM slack_outbox
                       WHERE thread_key = ? AND channel = ? AND method = 'chat.update' ORDER BY id DESC LIMIT 1
                       """), arguments: [key, entry.channel]) {
                    entry.body = (try? JSONValue(parsing: edit["body"])) ?? entry.body
                    entry.rendered = (edit["rendered"] as String?).flatMap(RenderedBody.init) ?? entry.rendered
                }
                return entry
            }
        }
    }

    func threadExists(_ key: String) async throws -> Bool {
        try await store.database.read { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM slack_outbox WHERE thread_key = ?)"), arguments: [key]) ?? false
        }
    }

    func feedVersion() async throws -> String {
        try await store.database.read { db in
            let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT (SELECT MAX(id) FROM slack_outbox) AS newest,
                       (SELECT MAX(sent_at) FROM slack_outbox WHERE channel = ? AND state = 'sent') AS edited
                """), arguments: [OutboxMessage.webChannel])
            let newest: Int64 = row?["newest"] ?? 0
            let edited: Double = row?["edited"] ?? 0
            return "\(newest).\(Int64(edited * 1000))"
        }
    }

    func due(now: Date, lease: Duration, budgetPerMinute: Int, skipping: Set<String>) async throws -> [OutboxEntry] {
        let seconds = now.timeIntervalSince1970
        // Polled twice a second: a poll that finds nothing to send (idle, every channel paused or
        // spent, replies waiting for their root) only reads and never takes the write lock.
        let found = try await store.database.read { db in
            try !Self.heads(in: db, now: seconds, budgetPerMinute: budgetPerMinute, skipping: skipping).isEmpty
        }
        guard found else { return [] }
        return try await store.writer.write { db in
            // Chosen again under the write lock: another process sharing the store may have leased one meanwhile.
            try Self.heads(in: db, now: seconds, budgetPerMinute: budgetPerMinute, skipping: skipping).map { row in
                let id: Int64 = row["id"]
                try db.run("UPDATE slack_outbox SET lease_until = ? WHERE id = ?", [seconds + lease.seconds, id])
                return try Self.entry(row, in: db)
            }
        }
    }

    /// What may go now: at most one message per channel, from each channel that is not `skipping`,
    /// has no send in flight (one at a time per channel) and sent fewer than `budgetPerMinute` in the
    /// last minute; a channel that may not send is passed over and holds nobody else up.
    static func heads(in db: Database, now: Double, budgetPerMinute: Int, skipping: Set<String>) throws -> [Row] {
        let anyDue = try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM slack_outbox WHERE state = 'pending' AND next_attempt_at <= ?
                           AND (lease_until IS NULL OR lease_until <= ?))
            """), arguments: [now, now]) ?? false
        guard anyDue else { return [] }
        // Not DISTINCT: that would walk slack_outbox_pending for its order instead of the few leases.
        let inFlight = Set(try String.fetchAll(db.cachedStatement(sql: """
            SELECT channel FROM slack_outbox WHERE state = 'pending' AND lease_until > ?
            """), arguments: [now]))
        var heads: [Row] = []
        for channel in try String.fetchAll(db.cachedStatement(sql: pendingChannels))
        where !skipping.contains(channel) && !inFlight.contains(channel) {
            // The budget counts at most `budgetPerMinute` sends of the last minute, from slack_outbox_sent.
            let spent = try Int.fetchOne(db.cachedStatement(sql: """
                SELECT COUNT(*) FROM (SELECT 1 FROM slack_outbox WHERE channel = ? AND state = 'sent' AND sent_at > ? LIMIT ?)
                """), arguments: [channel, now - 60, budgetPerMinute]) ?? 0
            guard spent < budgetPerMinute else { continue }
            if let row = try Row.fetchOne(db.cachedStatement(sql: lineHead), arguments: [channel, now, now]) {
                heads.append(row)
            }
        }
        return heads
    }

    /// The channels with a pending message, one index probe each (a skip-scan of slack_outbox_pending).
    static let pendingChannels = """
        WITH RECURSIVE pending(channel) AS (
            SELECT (SELECT MIN(channel) FROM slack_outbox WHERE state = 'pending')
            UNION ALL
            SELECT (SELECT MIN(channel) FROM slack_outbox WHERE state = 'pending' AND channel > pending.channel)
            FROM pending WHERE pending.channel IS NOT NULL
        )
        SELECT channel FROM pending WHERE channel IS NOT NULL
        """

    /// A channel's oldest due message that nothing holds back. Its lines:
    /// - a thread's root waits only for an earlier pending root of the same thread in the channel;
    /// - every other message of a thread waits while the thread's root is pending in the channel
    ///   (queued, leased or retrying), however old the root; a root that was sent, given up or never
    ///   queued holds nothing (a reply then goes to the channel, an edit fails: there is nothing to edit);
    /// - replies wait for the thread's earlier pending replies, and messages without a thread for the
    ///   channel's earlier ones;
    /// - an edit (`chat.update`, at most one pending per message) waits for its root only, so an edit
    ///   held back by its `edit_gap` never holds a reply.
    /// The walk reads the channel's pending rows in order until one may go, two index probes each
    /// (slack_outbox_thread_line); sent rows are never read.
    static let lineHead = """
        SELECT o.* FROM slack_outbox o
        WHERE o.state = 'pending' AND o.channel = ? AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until <= ?)
          AND NOT EXISTS (
              SELECT 1 FROM slack_outbox r
              WHERE r.state = 'pending' AND r.channel = o.channel AND r.thread_key = o.thread_key AND r.is_root = 1
                AND r.id != o.id AND (o.is_root = 0 OR r.id < o.id))
          AND (o.method = 'chat.update' OR (o.is_root = 1 AND o.thread_key IS NOT NULL) OR NOT EXISTS (
              SELECT 1 FROM slack_outbox p
              WHERE p.state = 'pending' AND p.channel = o.channel AND p.thread_key IS o.thread_key AND p.is_root = 0
                AND p.method != 'chat.update' AND p.id < o.id))
        ORDER BY o.id
        LIMIT 1
        """

    static func entry(_ row: Row, in db: Database) throws -> OutboxEntry {
        let channel: String = row["channel"]
        let key: String? = row["thread_key"]
        // Its root in this channel: a root of the same key in another channel is another message.
        let threadTS = try key.flatMap {
            try String.fetchOne(db.cachedStatement(sql: "SELECT ts FROM slack_threads WHERE thread_key = ? AND channel = ?"),
                                arguments: [$0, channel])
        }
        return OutboxEntry(
            id: row["id"],
            message: OutboxMessage(channel: channel, method: OutboxMessage.Method(rawValue: row["method"]) ?? .postMessage,
                                   body: (try? JSONValue(parsing: row["body"])) ?? .null, threadKey: key, isRoot: row["is_root"],
                                   rendered: (row["rendered"] as String?).flatMap(RenderedBody.init),
                                   editGap: (row["edit_gap"] as Double?).map { .seconds($0) }),
            attempts: row["attempts"], threadTS: threadTS, version: row["version"], origin: WorkOrigin(storedText: row["origin"]))
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
                // A newer edit arrived while this one was on its way: it is queued again, after the gap,
                // as a new message (an edit holds no line but waits for its root).
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
            INSERT INTO slack_outbox (channel, method, body, thread_key, is_root, state, next_attempt_at, created_at, rendered, coalesce_key,
                                      edit_gap, origin)
            SELECT channel, method, body, thread_key, is_root, 'pending', ? + COALESCE(edit_gap, 0), ?, rendered, coalesce_key, edit_gap, origin
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
