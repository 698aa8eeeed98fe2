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
                try db.execute(sql: "DELETE FROM alerts WHERE rowid IN (SELECT rowid FROM alerts WHERE received_at < ? LIMIT ?)",
                               arguments: [before, limit])
                var deleted = db.changesCount
                // Thread roots (one per alert group, kept by their once key) live as long as the alerts they head.
                try db.execute(sql: """
                    DELETE FROM slack_outbox WHERE id IN (SELECT id FROM slack_outbox
                    WHERE state = 'sent' AND once_key IS NOT NULL AND sent_at < ? LIMIT ?)
                    """, arguments: [before, limit])
                deleted += db.changesCount
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

    /// Closed storms with their groups and candidates, and the per-minute counters, older than the cutoff.
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
        }
        return deleted
    }
}
