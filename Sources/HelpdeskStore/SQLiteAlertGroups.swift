import Foundation
import GRDB

/// When alerts and alert groups were last received, kept cheaply enough for every notification:
/// a repeat writes only when the stored time is more than ``seenInterval`` old. Retention prunes by
/// these times, so an alert still firing (Alertmanager re-sends it every repeat interval) and the
/// thread of a group still alerting are never pruned.
enum SQLiteAlertGroups {
    /// A repeat refreshes `seen_at` at most this often (seconds); retention ages are an hour or more.
    static let seenInterval: Double = 600

    /// Called for each alert of a change set after its insert. A repeat of a firing alert refreshes
    /// its `seen_at`; a new resolution refreshes its firing record's, so the episode is pruned by
    /// the age of its resolution.
    static func markSeen(_ alert: AlertRecord, isNew: Bool, in db: Database) throws {
        let received = alert.receivedAt.timeIntervalSince1970
        if alert.status == "firing", !isNew {
            try db.run("""
                UPDATE alerts SET seen_at = ? WHERE fingerprint = ? AND starts_at = ? AND receiver = ? AND status = 'firing' AND seen_at < ?
                """, [received, alert.fingerprint, alert.startsAt, alert.receiver, received - seenInterval])
        } else if alert.status != "firing", isNew {
            try db.run("""
                UPDATE alerts SET seen_at = max(seen_at, ?) WHERE fingerprint = ? AND starts_at = ? AND receiver = ? AND status = 'firing'
                """, [received, alert.fingerprint, alert.startsAt, alert.receiver])
        }
    }

    /// Records that a notification of the group arrived, with its thread (the calm root's thread and
    /// once key, when it posts), so the thread is pruned with the group.
    static func touch(_ intake: AlertNotificationIntake, in db: Database) throws {
        let root = intake.calmMessages.root
        try db.run("""
            INSERT INTO alert_groups (group_key, thread_key, once_key, seen_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (group_key) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at),
                thread_key = COALESCE(excluded.thread_key, thread_key), once_key = COALESCE(excluded.once_key, once_key)
            WHERE seen_at < excluded.seen_at - ? OR (thread_key IS NULL AND excluded.thread_key IS NOT NULL)
            """, [intake.groupKey, root?.threadKey, root?.onceKey, intake.receivedAt.timeIntervalSince1970, seenInterval])
    }

    /// Groups not seen since `before`, at most `limit`, with their thread's `slack_threads` row and
    /// their root's outbox row (its once key); returns the rows deleted.
    static func prune(before: Double, limit: Int, in db: Database) throws -> Int {
        let groups = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT group_key, thread_key, once_key FROM alert_groups WHERE seen_at < ? ORDER BY seen_at LIMIT ?
            """), arguments: [before, limit])
        var deleted = 0
        for group in groups {
            if let thread = group["thread_key"] as String? {
                try db.run("DELETE FROM slack_threads WHERE thread_key = ?", [thread])
                deleted += db.changesCount
            }
            if let once = group["once_key"] as String? {
                // A root still pending (Slack down for the whole retention age) is left for the outbox to send.
                try db.run("DELETE FROM slack_outbox WHERE once_key = ? AND state != 'pending'", [once])
                deleted += db.changesCount
            }
            try db.run("DELETE FROM alert_groups WHERE group_key = ?", [group["group_key"] as String])
            deleted += 1
        }
        return deleted
    }
}
