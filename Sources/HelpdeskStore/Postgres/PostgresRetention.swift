import Foundation
import Logging
import PostgresNIO

/// Retention of ``PostgresStore``: each call is one short transaction deleting one batch. Rows are
/// picked with `FOR UPDATE SKIP LOCKED` and their conditions rechecked on the row locked, so a row
/// refreshed meanwhile (an alert received again, a job retried) is kept, and replicas pruning at
/// once never wait on each other's rows. The audit log is never touched.
struct PostgresRetention: RetentionStore {
    let store: PostgresStore

    func prune(_ kind: RetentionKind, olderThan cutoff: Date, limit: Int) async throws -> Int {
        let store = store
        let before = cutoff.timeIntervalSince1970
        let limit = max(1, limit)
        return try await store.transaction { connection -> Int in
            switch kind {
            case .alerts:
                // Alerts span several tables: one replica at a time; the others find it busy and stop
                // this pass (0 reads as "done"), leaving the rest to it.
                let logger = store.logger
                guard try await connection.tryLock("helpdesk.retention:alerts", logger) else { return 0 }
                var deleted = try await Self.pruneAlerts(connection, before: before, limit: limit, logger: logger)
                // Thread roots (one per alert group, kept by their once key) and their threads live as
                // long as their group.
                deleted += try await Self.pruneAlertGroups(connection, before: before, limit: limit, logger: logger)
                deleted += try await Self.pruneStormState(connection, before: before, limit: limit, logger: logger)
                return deleted
            case .jobs:
                return try await Self.count(connection, """
                    WITH finished AS (
                        SELECT id FROM jobs WHERE state IN ('done', 'dead') AND finished_at < \(before)
                        ORDER BY finished_at LIMIT \(limit)
                        FOR UPDATE SKIP LOCKED
                    ), runs AS (
                        DELETE FROM job_runs WHERE job_id IN (SELECT id FROM finished)
                    ), gone AS (
                        DELETE FROM jobs WHERE id IN (SELECT id FROM finished) RETURNING 1
                    )
                    SELECT COUNT(*) AS n FROM gone
                    """, store.logger)
            case .outbox:
                return try await Self.count(connection, """
                    WITH gone AS (
                        DELETE FROM slack_outbox WHERE id IN (
                            SELECT id FROM slack_outbox
                            WHERE state = 'sent' AND once_key IS NULL AND sent_at < \(before)
                            LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                        RETURNING 1
                    )
                    SELECT COUNT(*) AS n FROM gone
                    """, store.logger)
            }
        }
    }

    /// At most `limit` alert records: resolved episodes (both records) by the age of their resolution,
    /// then firing records not received again since the cutoff. A firing alert Alertmanager still
    /// sends is never pruned: each repeat refreshes its `seen_at`, and the lock's recheck sees it.
    static func pruneAlerts(_ connection: PostgresConnection, before: Double, limit: Int,
                            logger: Logger) async throws -> Int {
        let deleted = try await Self.count(connection, """
            WITH episodes AS (
                SELECT fingerprint, starts_at, receiver FROM alerts
                WHERE status = 'resolved' AND received_at < \(before) ORDER BY received_at LIMIT \(max(1, limit / 2))
                FOR UPDATE SKIP LOCKED
            ), gone AS (
                DELETE FROM alerts USING episodes
                WHERE alerts.fingerprint = episodes.fingerprint AND alerts.starts_at = episodes.starts_at
                    AND alerts.receiver = episodes.receiver
                RETURNING 1
            )
            SELECT COUNT(*) AS n FROM gone
            """, logger)
        guard deleted < limit else { return deleted }
        return try await deleted + Self.count(connection, """
            WITH gone AS (
                DELETE FROM alerts WHERE id IN (
                    SELECT id FROM alerts WHERE status = 'firing' AND seen_at < \(before)
                    ORDER BY seen_at LIMIT \(limit - deleted)
                    FOR UPDATE SKIP LOCKED)
                RETURNING 1
            )
            SELECT COUNT(*) AS n FROM gone
            """, logger)
    }

    /// Groups not seen since `before`, at most `limit`, with their thread's `slack_threads` row and
    /// their root's outbox row (its once key); returns the rows deleted. A root still pending (Slack
    /// down for the whole retention age) is left for the outbox to send.
    static func pruneAlertGroups(_ connection: PostgresConnection, before: Double, limit: Int,
                                 logger: Logger) async throws -> Int {
        try await Self.count(connection, """
            WITH unseen AS (
                SELECT group_key, thread_key, once_key FROM alert_groups
                WHERE seen_at < \(before) ORDER BY seen_at LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            ), threads AS (
                DELETE FROM slack_threads WHERE thread_key IN (SELECT thread_key FROM unseen) RETURNING 1
            ), roots AS (
                DELETE FROM slack_outbox WHERE once_key IN (SELECT once_key FROM unseen) AND state != 'pending'
                RETURNING 1
            ), unseen_groups AS (
                DELETE FROM alert_groups WHERE group_key IN (SELECT group_key FROM unseen) RETURNING 1
            )
            SELECT (SELECT COUNT(*) FROM threads) + (SELECT COUNT(*) FROM roots)
                + (SELECT COUNT(*) FROM unseen_groups) AS n
            """, logger)
    }

    /// Closed storms with their groups, candidates, thread and once-keyed messages, and the per-minute
    /// counters, older than the cutoff.
    static func pruneStormState(_ connection: PostgresConnection, before: Double, limit: Int,
                                logger: Logger) async throws -> Int {
        var deleted = try await Self.count(connection, """
            WITH gone AS (
                DELETE FROM alert_minutes WHERE (channel, minute) IN (
                    SELECT channel, minute FROM alert_minutes WHERE minute < \(Int64(before / 60)) LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED)
                RETURNING 1
            )
            SELECT COUNT(*) AS n FROM gone
            """, logger)
        let storms = try await connection.rows("""
            SELECT id FROM storms WHERE closed_at IS NOT NULL AND closed_at < \(before) LIMIT \(limit)
            FOR UPDATE SKIP LOCKED
            """, logger).map { try $0["id"].decode(Int64.self) }
        guard !storms.isEmpty else { return deleted }
        let threadKeys = storms.map(StormSnapshot.threadKey)
        let onceKeys = storms.flatMap { ["storm-root:\($0)", "storm-summary:\($0)"] }
        deleted += storms.count
        deleted += try await Self.count(connection, """
            WITH closed_candidates AS (
                DELETE FROM storm_candidates WHERE storm_id = ANY(\(storms))
            ), closed_groups AS (
                DELETE FROM storm_groups WHERE storm_id = ANY(\(storms))
            ), closed_storms AS (
                DELETE FROM storms WHERE id = ANY(\(storms))
            ), threads AS (
                DELETE FROM slack_threads WHERE thread_key = ANY(\(threadKeys)) RETURNING 1
            ), messages AS (
                DELETE FROM slack_outbox WHERE once_key = ANY(\(onceKeys)) AND state != 'pending' RETURNING 1
            )
            SELECT (SELECT COUNT(*) FROM threads) + (SELECT COUNT(*) FROM messages) AS n
            """, logger)
        return deleted
    }

    /// Runs a statement answering one row with a count in column `n`.
    private static func count(_ connection: PostgresConnection, _ query: PostgresQuery,
                              _ logger: Logger) async throws -> Int {
        try await connection.row(query, logger)?["n"].decode(Int.self) ?? 0
    }
}
