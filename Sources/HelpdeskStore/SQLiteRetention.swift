import Foundation
import GRDB

struct SQLiteRetention: RetentionStore {
    let store: SQLiteStore

    func prune(_ kind: RetentionKind, olderThan cutoff: Date, limit: Int) async throws -> Int {
        let before = cutoff.timeIntervalSince1970
        let limit = max(1, limit)
        return try await store.writer.write { db in
            switch kind {
            case .alerts:
                var deleted = try Self.pruneAlerts(db, before: before, limit: limit)
                // Thread roots (one per alert group, kept by their once key) and their threads live as long as their group.
                deleted += try SQLiteAlertGroups.prune(before: before, limit: limit, in: db)
                deleted += try Self.pruneStormState(db, before: before, limit: limit)
                return deleted
            case .jobs:
                let ids = try Int64.fetchAll(db, sql: """
                    SELECT id FROM jobs WHERE state IN ('done', 'dead') AND finished_at < ? ORDER BY finished_at LIMIT ?
                    """, arguments: [before, limit])
                guard !ids.isEmpty else { return 0 }
                let list = ids.map(String.init).joined(separator: ",")
                try db.execute(sql: "DELETE FROM job_runs WHERE job_id IN (\(list))")
                try db.execute(sql: "DELETE FROM jobs WHERE id IN (\(list))")
                return ids.count
            case .outbox:
                try db.execute(sql: """
                    DELETE FROM slack_outbox WHERE id IN (SELECT id FROM slack_outbox
                    WHERE state = 'sent' AND once_key IS NULL AND sent_at < ? LIMIT ?)
                    """, arguments: [before, limit])
                return db.changesCount
            }
        }
    }

    /// At most `limit` alert records: resolved episodes (both records) by the age of their resolution,
    /// then firing records not received again since the cutoff. A firing alert Alertmanager still
    /// sends is never pruned: each repeat refreshes its `seen_at` (every 10 minutes at most), and a
    /// resolution refreshes it too. Both go through partial indexes.
    static func pruneAlerts(_ db: Database, before: Double, limit: Int) throws -> Int {
        let episodes = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT fingerprint, starts_at, receiver FROM alerts WHERE status = 'resolved' AND received_at < ? ORDER BY received_at LIMIT ?
            """), arguments: [before, max(1, limit / 2)])
        var deleted = 0
        for episode in episodes {
            try db.run("DELETE FROM alerts WHERE fingerprint = ? AND starts_at = ? AND receiver = ?",
                       [episode["fingerprint"] as String, episode["starts_at"] as String, episode["receiver"] as String])
            deleted += db.changesCount
        }
        guard deleted < limit else { return deleted }
        try db.run("""
            DELETE FROM alerts WHERE rowid IN (SELECT rowid FROM alerts WHERE status = 'firing' AND seen_at < ? ORDER BY seen_at LIMIT ?)
            """, [before, limit - deleted])
        return deleted + db.changesCount
    }

    /// Closed storms with their groups, candidates, thread and once-keyed messages, and the per-minute
    /// counters, older than the cutoff.
    static func pruneStormState(_ db: Database, before: Double, limit: Int) throws -> Int {
        try db.execute(sql: "DELETE FROM alert_minutes WHERE (channel, minute) IN (SELECT channel, minute FROM alert_minutes WHERE minute < ? LIMIT ?)",
                       arguments: [Int64(before / 60), limit])
        var deleted = db.changesCount
        let storms = try Int64.fetchAll(db, sql: "SELECT id FROM storms WHERE closed_at IS NOT NULL AND closed_at < ? LIMIT ?", arguments: [before, limit])
        for id in storms {
            try db.execute(sql: "DELETE FROM storm_candidates WHERE storm_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM storm_groups WHERE storm_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM storms WHERE id = ?", arguments: [id])
            deleted += 1
            try db.execute(sql: "DELETE FROM slack_threads WHERE thread_key = ?", arguments: [StormSnapshot.threadKey(id)])
            deleted += db.changesCount
            try db.execute(sql: "DELETE FROM slack_outbox WHERE once_key IN (?, ?) AND state != 'pending'",
                           arguments: ["storm-root:\(id)", "storm-summary:\(id)"])
            deleted += db.changesCount
        }
        return deleted
    }
}
