import Foundation
import HelpdeskCore
import Logging
import PostgresNIO

/// Queues Slack messages inside the caller's transaction: the twin of ``SQLiteSlackOutbox/enqueue(_:in:now:)``.
enum PostgresOutboxEnqueue {
    static func enqueue(_ messages: [OutboxMessage], on connection: PostgresConnection, now: Date, chain: AuditChain?,
                        logger: Logger, origin: WorkOrigin? = nil) async throws {
        guard !messages.isEmpty else { return }
        let origin = origin?.storedText
        // An id is taken at INSERT but the row shows at COMMIT: two replicas enqueueing at once could commit a
        // reply (id 11) before its root (id 10), and `due`, not seeing the root, would send the reply outside
        // the thread. Every insert into slack_outbox holds the audit lock to COMMIT (most of these transactions
        // take it anyway, for their audit events), so ids follow commit order, as under SQLite's single writer.
        // It also makes the once_key check below exact.
        try await connection.lock(PostgresAuditAppend.lockName, logger)
        for message in messages {
            if message.channel == OutboxMessage.webChannel {
                try await deliverToWeb(message, on: connection, now: now, chain: chain, logger: logger)
                continue
            }
            let due = now.addingTimeInterval(message.editGap?.seconds ?? 0).timeIntervalSince1970
            let seconds = now.timeIntervalSince1970
            let isRoot: Int64 = message.isRoot ? 1 : 0
            if let coalesceKey = message.coalesceKey {
                // A newer edit of a message with one pending replaces its body (and bumps its version, so a send
                // already under way leaves it pending). PostgreSQL takes one ON CONFLICT clause: SQLite's second
                // one (a repeated once_key queues nothing) is the NOT EXISTS.
                try await connection.run("""
                    INSERT INTO slack_outbox (channel, method, body, thread_key, is_root, state, next_attempt_at, created_at, once_key,
                                              rendered, coalesce_key, edit_gap, origin)
                    SELECT \(message.channel)::text, \(message.method.rawValue)::text, \(message.body.jsonText)::text,
                           \(message.threadKey)::text, \(isRoot)::bigint, 'pending', \(due)::double precision,
                           \(seconds)::double precision, \(message.onceKey)::text, \(message.rendered?.description)::text,
                           \(coalesceKey)::text, \(message.editGap?.seconds)::double precision, \(origin)::text
                    WHERE NOT EXISTS (SELECT 1 FROM slack_outbox WHERE once_key = \(message.onceKey)::text)
                    ON CONFLICT (channel, coalesce_key) WHERE state = 'pending' DO UPDATE
                        SET body = excluded.body, rendered = excluded.rendered, version = slack_outbox.version + 1,
                            origin = excluded.origin
                    """, logger)
            } else {
                try await connection.run("""
                    INSERT INTO slack_outbox (channel, method, body, thread_key, is_root, state, next_attempt_at, created_at, once_key,
                                              rendered, coalesce_key, edit_gap, origin)
                    VALUES (\(message.channel), \(message.method.rawValue), \(message.body.jsonText), \(message.threadKey), \(isRoot),
                            'pending', \(due), \(seconds), \(message.onceKey), \(message.rendered?.description), NULL,
                            \(message.editGap?.seconds), \(origin))
                    ON CONFLICT DO NOTHING
                    """, logger)
            }
        }
    }
}

extension PostgresOutboxEnqueue {
    /// The twin of ``SQLiteSlackOutbox/deliverToWeb(_:in:now:)``: a post is delivered as it is stored, an
    /// edit changes its root in place.
    static func deliverToWeb(_ message: OutboxMessage, on connection: PostgresConnection, now: Date, chain: AuditChain?,
                             logger: Logger) async throws {
        let seconds = now.timeIntervalSince1970
        switch message.method {
        case .update:
            guard let key = message.threadKey else { return }
            try await connection.run("""
                UPDATE slack_outbox SET body = \(message.body.jsonText), rendered = \(message.rendered?.description), version = version + 1,
                    sent_at = \(seconds)
                WHERE id = (SELECT id FROM slack_outbox WHERE thread_key = \(key) AND channel = \(OutboxMessage.webChannel) AND is_root = 1
                            ORDER BY id DESC LIMIT 1)
                """, logger)
        case .postMessage, .postEphemeral:
            let isRoot: Int64 = message.isRoot ? 1 : 0
            let inserted = try await connection.row("""
                INSERT INTO slack_outbox (channel, method, body, thread_key, is_root, state, next_attempt_at, created_at, once_key,
                                          rendered, sent_at)
                VALUES (\(message.channel), \(message.method.rawValue), \(message.body.jsonText), \(message.threadKey), \(isRoot),
                        'sent', \(seconds), \(seconds), \(message.onceKey), \(message.rendered?.description), \(seconds))
                ON CONFLICT DO NOTHING
                RETURNING id
                """, logger)
            // Delivered as stored: recorded as a Slack send is, in the same transaction.
            if let id = try inserted?["id"].decode(Int64.self) {
                try await PostgresAuditAppend.append([SQLiteSlackOutbox.webDelivery(message, id: id)], on: connection, now: now, chain: chain,
                                                     logger: logger)
            }
        }
    }
}

/// The Slack outbox of ``PostgresStore``: the twin of ``SQLiteSlackOutbox``, with every replica polling `due`.
/// A channel is leased from one replica at a time: `due` takes its `helpdesk.outbox:` advisory lock (without
/// waiting: a channel another replica is choosing for is passed over this poll), then checks in-flight, budget
/// and line with a snapshot taken after the lock, and sets the lease before COMMIT releases it. So a message is
/// never leased twice, and a channel's order and pacing hold across replicas.
struct PostgresSlackOutbox: SlackOutboxStore {
    let store: PostgresStore

    static let channelLockPrefix = "helpdesk.outbox:"

    func due(now: Date, lease: Duration, budgetPerMinute: Int, skipping: Set<String>) async throws -> [OutboxEntry] {
        // PostgreSQL refuses a negative LIMIT; no channel may send on such a budget anyway.
        guard budgetPerMinute > 0 else { return [] }
        let seconds = now.timeIntervalSince1970
        let budget = Int64(budgetPerMinute)
        let skipped = Array(skipping)
        let logger = store.logger
        // Polled twice a second by every replica: a poll that finds nothing to send (idle, every channel paused
        // or spent, replies waiting for their root) only reads, outside a transaction and without locks.
        let channels = try await store.read { connection in
            try await connection.rows("""
                WITH n AS (SELECT \(seconds)::double precision AS now, \(budget)::bigint AS budget),
                c AS (
                    SELECT DISTINCT channel FROM slack_outbox
                    WHERE state = 'pending' AND next_attempt_at <= \(seconds) AND (lease_until IS NULL OR lease_until <= \(seconds))
                      AND channel <> ALL(\(skipped)::text[])
                )
                \(unescaped: Self.heads)
                """, logger).map { try $0["channel"].decode(String.self) }
        }
        guard !channels.isEmpty else { return [] }
        let lockNames = channels.map { Self.channelLockPrefix + $0 }
        let until = seconds + lease.seconds
        let entries = try await store.transaction { connection -> [OutboxEntry] in
            // `connection.tryLock(channelLockPrefix + channel, …)` for every channel, in one trip. A channel another
            // replica holds is choosing its head right now: it is passed over until the next poll.
            let locked = try await connection.rows("""
                SELECT c.channel FROM unnest(\(channels)::text[], \(lockNames)::text[]) AS c(channel, name)
                WHERE pg_try_advisory_xact_lock(hashtextextended(c.name, 0))
                """, logger).map { try $0["channel"].decode(String.self) }
            guard !locked.isEmpty else { return [] }
            // Chosen again in a new statement, so with a snapshot taken after the locks: it sees the leases and
            // sends other replicas committed before releasing them. The lease is set before COMMIT releases ours.
            // The row conditions are repeated in the UPDATE so a row changed meanwhile is checked again.
            let rows = try await connection.rows("""
                WITH n AS (SELECT \(seconds)::double precision AS now, \(budget)::bigint AS budget),
                c AS (SELECT unnest(\(locked)::text[]) AS channel),
                heads AS (\(unescaped: Self.heads))
                UPDATE slack_outbox o SET lease_until = \(until)
                FROM heads
                WHERE o.id = heads.id AND o.state = 'pending' AND o.next_attempt_at <= \(seconds)
                  AND (o.lease_until IS NULL OR o.lease_until <= \(seconds))
                RETURNING o.id, o.channel, o.method, o.body, o.thread_key, o.is_root, o.rendered, o.edit_gap, o.attempts, o.version, o.origin,
                    (SELECT t.ts FROM slack_threads t WHERE t.thread_key = o.thread_key AND t.channel = o.channel) AS thread_ts
                """, logger)
            return try rows.map(Self.entry)
        }
        // SQLite hands them out by channel, in byte order.
        return entries.sorted { $0.message.channel.utf8.lexicographicallyPrecedes($1.message.channel.utf8) }
    }

    /// What may go now: at most one message (`id`) per channel of `c` (`c.channel`) that has no send in flight
    /// (one at a time per channel) and sent fewer than `n.budget` in the minute before `n.now`; a channel that may
    /// not send is passed over and holds nobody else up. Its message is the oldest due one that nothing holds back:
    /// - a thread's root waits only for an earlier pending root of the same thread in the channel;
    /// - every other message of a thread waits while the thread's root is pending in the channel
    ///   (queued, leased or retrying), however old the root; a root that was sent, given up or never
    ///   queued holds nothing (a reply then goes to the channel, an edit fails: there is nothing to edit);
    /// - replies wait for the thread's earlier pending replies, and messages without a thread for the
    ///   channel's earlier ones (split on NULL so both probes can use slack_outbox_thread_line);
    /// - an edit (`chat.update`, at most one pending per message) waits for its root only, so an edit
    ///   held back by its `edit_gap` never holds a reply.
    /// Constant text over the CTEs `n` and `c` the statement defines, so the read and the lease share it.
    static let heads = """
        SELECT c.channel, h.id
        FROM n CROSS JOIN c
        CROSS JOIN LATERAL (
            SELECT o.id FROM slack_outbox o
            WHERE o.state = 'pending' AND o.channel = c.channel AND o.next_attempt_at <= n.now
              AND (o.lease_until IS NULL OR o.lease_until <= n.now)
              AND NOT EXISTS (
                  SELECT 1 FROM slack_outbox r
                  WHERE r.state = 'pending' AND r.channel = o.channel AND r.thread_key = o.thread_key AND r.is_root = 1
                    AND r.id <> o.id AND (o.is_root = 0 OR r.id < o.id))
              AND (o.method = 'chat.update' OR (o.is_root = 1 AND o.thread_key IS NOT NULL)
                   OR (o.thread_key IS NULL AND NOT EXISTS (
                          SELECT 1 FROM slack_outbox p
                          WHERE p.state = 'pending' AND p.channel = o.channel AND p.thread_key IS NULL AND p.is_root = 0
                            AND p.method <> 'chat.update' AND p.id < o.id))
                   OR (o.thread_key IS NOT NULL AND NOT EXISTS (
                          SELECT 1 FROM slack_outbox p
                          WHERE p.state = 'pending' AND p.channel = o.channel AND p.thread_key = o.thread_key AND p.is_root = 0
                            AND p.method <> 'chat.update' AND p.id < o.id)))
            ORDER BY o.id
            LIMIT 1
        ) h
        WHERE NOT EXISTS (SELECT 1 FROM slack_outbox f WHERE f.state = 'pending' AND f.channel = c.channel AND f.lease_until > n.now)
          AND (SELECT COUNT(*) FROM (SELECT 1 FROM slack_outbox s
                                     WHERE s.channel = c.channel AND s.state = 'sent' AND s.sent_at > n.now - 60
                                     LIMIT n.budget) spent) < n.budget
        """

    static func entry(_ row: PostgresRandomAccessRow) throws -> OutboxEntry {
        let body = try row["body"].decode(String.self)
        return OutboxEntry(
            id: try row["id"].decode(Int64.self),
            message: OutboxMessage(
                channel: try row["channel"].decode(String.self),
                method: OutboxMessage.Method(rawValue: try row["method"].decode(String.self)) ?? .postMessage,
                body: (try? JSONValue(parsing: body)) ?? .null,
                threadKey: try row["thread_key"].decode(String?.self), isRoot: try row["is_root"].decode(Int64.self) != 0,
                rendered: try row["rendered"].decode(String?.self).flatMap(RenderedBody.init),
                editGap: try row["edit_gap"].decode(Double?.self).map { .seconds($0) }),
            attempts: try row["attempts"].decode(Int.self), threadTS: try row["thread_ts"].decode(String?.self),
            version: try row["version"].decode(Int.self), origin: WorkOrigin(storedText: try row["origin"].decode(String?.self)))
    }

    func markSent(_ id: Int64, version: Int, ts: String?, now: Date) async throws {
        let logger = store.logger
        let chain = store.auditChain
        try await store.transaction { connection -> Void in
            // Before the row lock: an enqueue coalescing into this row holds the audit lock while it waits for the
            // row (see PostgresOutboxEnqueue). Waiting here also lets such an edit commit first, so the version
            // compared below is the newest, as under SQLite's single writer.
            try await connection.lock(PostgresAuditAppend.lockName, logger)
            guard let sent = try await connection.row("""
                UPDATE slack_outbox SET state = 'sent', ts = \(ts), sent_at = \(now.timeIntervalSince1970), lease_until = NULL
                WHERE id = \(id)
                RETURNING channel, method, thread_key, is_root, version
                """, logger) else { return }
            let channel = try sent["channel"].decode(String.self)
            let method = try sent["method"].decode(String.self)
            let threadKey = try sent["thread_key"].decode(String?.self)
            let isRoot = try sent["is_root"].decode(Int64.self) != 0
            let sentVersion = try sent["version"].decode(Int.self)
            try await PostgresAuditAppend.append([AuditDraft(kind: "message_sent", principal: nil, target: channel, data: .object([
                "via": .string("slack"), "method": .string(method), "ts": ts.map(JSONValue.string) ?? .null,
                "thread": threadKey.map(JSONValue.string) ?? .null, "outbox_id": .number(Double(id)),
            ]))], on: connection, now: now, chain: chain, logger: logger)
            if sentVersion != version {
                // A newer edit arrived while this one was on its way: it is queued again, after the gap,
                // as a new message (an edit holds no line but waits for its root).
                try await Self.requeueNewerVersion(of: id, on: connection, now: now, logger: logger)
            }
            if let ts, isRoot, let threadKey {
                try await connection.run("""
                    INSERT INTO slack_threads (thread_key, channel, ts) VALUES (\(threadKey), \(channel), \(ts))
                    ON CONFLICT (thread_key) DO UPDATE SET channel = excluded.channel, ts = excluded.ts
                    """, logger)
            }
        }
    }

    func retry(_ id: Int64, at: Date, error: String, countAttempt: Bool) async throws {
        let logger = store.logger
        let counted: Int64 = countAttempt ? 1 : 0  // rate limits are not failures
        try await store.transaction { connection in
            try await connection.run("""
                UPDATE slack_outbox SET next_attempt_at = \(at.timeIntervalSince1970), error = \(error), lease_until = NULL,
                    attempts = attempts + \(counted)
                WHERE id = \(id)
                """, logger)
        }
    }

    func markFailed(_ id: Int64, version: Int, error: String, now: Date) async throws {
        let logger = store.logger
        try await store.transaction { connection -> Void in
            // Before the row lock, as in markSent; it also covers the insert of the requeued version.
            try await connection.lock(PostgresAuditAppend.lockName, logger)
            let failed = try await connection.row("""
                UPDATE slack_outbox SET state = 'failed', error = \(error), lease_until = NULL, sent_at = \(now.timeIntervalSince1970)
                WHERE id = \(id)
                RETURNING version
                """, logger)
            // The version that failed is not the newest: that one still goes (a storm's closing digest).
            if let failedVersion = try failed?["version"].decode(Int.self), failedVersion != version {
                try await Self.requeueNewerVersion(of: id, on: connection, now: now, logger: logger)
            }
        }
    }

    /// Queues the newest body of a coalesced edit as a new pending message, `edit_gap` from now. The caller
    /// holds the audit lock (see PostgresOutboxEnqueue).
    static func requeueNewerVersion(of id: Int64, on connection: PostgresConnection, now: Date, logger: Logger) async throws {
        let seconds = now.timeIntervalSince1970
        try await connection.run("""
            INSERT INTO slack_outbox (channel, method, body, thread_key, is_root, state, next_attempt_at, created_at, rendered,
                                      coalesce_key, edit_gap, origin)
            SELECT channel, method, body, thread_key, is_root, 'pending', \(seconds) + COALESCE(edit_gap, 0), \(seconds), rendered,
                   coalesce_key, edit_gap, origin
            FROM slack_outbox WHERE id = \(id)
            ON CONFLICT DO NOTHING
            """, logger)
    }

    /// One row of ``entries(channel:)``.
    typealias Listed = (id: Int64, channel: String, state: String, ts: String?, error: String?)

    func entries(channel: String?) async throws -> [(id: Int64, channel: String, state: String, ts: String?, error: String?)] {
        let logger = store.logger
        return try await store.read { connection -> [Listed] in
            let rows = try await connection.rows("""
                SELECT id, channel, state, ts, error FROM slack_outbox WHERE \(channel)::text IS NULL OR channel = \(channel)
                ORDER BY id
                """, logger)
            return try rows.map { row in
                (id: try row["id"].decode(Int64.self), channel: try row["channel"].decode(String.self),
                 state: try row["state"].decode(String.self), ts: try row["ts"].decode(String?.self),
                 error: try row["error"].decode(String?.self))
            }
        }
    }

    func threadRoot(_ key: String) async throws -> (channel: String, ts: String)? {
        let logger = store.logger
        return try await store.read { connection in
            try await connection.row("SELECT channel, ts FROM slack_threads WHERE thread_key = \(key)", logger).map { row in
                (channel: try row["channel"].decode(String.self), ts: try row["ts"].decode(String.self))
            }
        }
    }

    func feed(limit: Int) async throws -> [FeedEntry] {
        let logger = store.logger
        let limit = Int64(max(0, limit))
        return try await store.read { connection -> [FeedEntry] in
            // A Slack channel's root keeps its first body; its newest edit is a row of its own.
            let rows = try await connection.rows("""
                SELECT o.id, o.channel, o.thread_key, o.is_root, o.created_at,
                       COALESCE(e.body, o.body) AS body, CASE WHEN e.id IS NULL THEN o.rendered ELSE COALESCE(e.rendered, o.rendered) END AS rendered
                FROM (SELECT * FROM slack_outbox WHERE method = 'chat.postMessage' ORDER BY id DESC LIMIT \(limit)) o
                LEFT JOIN LATERAL (
                    SELECT u.id, u.body, u.rendered FROM slack_outbox u
                    WHERE o.is_root = 1 AND o.channel <> \(OutboxMessage.webChannel) AND u.thread_key = o.thread_key
                      AND u.channel = o.channel AND u.method = 'chat.update'
                    ORDER BY u.id DESC LIMIT 1
                ) e ON TRUE
                ORDER BY o.id DESC
                """, logger)
            return try rows.map { row in
                FeedEntry(id: try row["id"].decode(Int64.self), channel: try row["channel"].decode(String.self),
                          threadKey: try row["thread_key"].decode(String?.self), isRoot: try row["is_root"].decode(Int64.self) != 0,
                          body: (try? JSONValue(parsing: try row["body"].decode(String.self))) ?? .null,
                          rendered: try row["rendered"].decode(String?.self).flatMap(RenderedBody.init),
                          createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)))
            }
        }
    }

    func threadExists(_ key: String) async throws -> Bool {
        let logger = store.logger
        return try await store.read { connection in
            try await connection.row("SELECT EXISTS (SELECT 1 FROM slack_outbox WHERE thread_key = \(key)) AS found", logger)?["found"].decode(Bool.self) ?? false
        }
    }

    func feedVersion() async throws -> String {
        let logger = store.logger
        return try await store.read { connection in
            let row = try await connection.row("""
                SELECT (SELECT MAX(id) FROM slack_outbox) AS newest,
                       (SELECT MAX(sent_at) FROM slack_outbox WHERE channel = \(OutboxMessage.webChannel) AND state = 'sent') AS edited
                """, logger)
            let newest = try row?["newest"].decode(Int64?.self) ?? 0
            let edited = try row?["edited"].decode(Double?.self) ?? 0
            return "\(newest).\(Int64(edited * 1000))"
        }
    }

    /// Wakes for messages queued by this process; other replicas' messages are found by the next poll.
    func waitForMessages(timeout: Duration) async {
        await store.outboxSignal.wait(timeout: timeout)
    }
}
