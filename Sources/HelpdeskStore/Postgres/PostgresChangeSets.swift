import Foundation
import HelpdeskCore
import Logging
import PostgresNIO

/// Applies a ``ChangeSet`` inside a transaction the caller opened: the twin of
/// `SQLiteStore.apply(_:in:now:defaultMaxAttempts:)`. The caller signals the wake signals after commit.
enum PostgresChangeSets {
    static func apply(_ changes: ChangeSet, on connection: PostgresConnection, now: Date, store: PostgresStore) async throws -> ChangeSetOutcome {
        let logger = store.logger
        if let notification = changes.notification {
            // First of all, before its alerts: a channel's notifications are applied one at a time across
            // replicas, so an HA pair's second copy of one finds every alert of the first and queues nothing.
            try await connection.lock(PostgresStorms.lockName(notification.channel), logger)
        }
        var ids = try await insertJobs(changes.jobs, on: connection, now: now, store: store, origin: changes.origin)
        for incident in changes.incidents {
            try await connection.run("""
                INSERT INTO incidents (id, created_at, target, trigger, summary, severity, finding_count, bundle_path, bundle_bytes)
                VALUES (\(incident.id), \(incident.createdAt.timeIntervalSince1970), \(incident.target), \(incident.trigger),
                        \(incident.summary), \(incident.severity), \(incident.findingCount), \(incident.bundlePath), \(incident.bundleBytes))
                """, logger)
            if let content = incident.bundleContent {
                try await connection.run("INSERT INTO incident_bundles (incident_id, content) VALUES (\(incident.id), \(content))", logger)
            }
        }
        let inserted = try await insertAlerts(changes.alerts, on: connection, logger)
        let newAlerts = inserted.map { $0 != nil }
        if changes.notification == nil {
            for (alert, id) in zip(changes.alerts, inserted) where id != nil {
                ids += try await insertJobs(alert.onNew, on: connection, now: now, store: store, origin: changes.origin)
            }
        }
        try await markSeen(changes.alerts, newAlerts: newAlerts, on: connection, logger)
        var storm: StormID?
        var effects = PostgresStorms.Effects()
        if let notification = changes.notification {
            try await touch(notification, on: connection, logger)
            (effects, storm) = try await PostgresStorms.apply(notification, alerts: changes.alerts, inserted: inserted, on: connection,
                                                              now: now, store: store)
            ids += try await insertJobs(effects.jobs, on: connection, now: now, store: store, origin: changes.origin)
        }
        // The audit before the outbox, as in every transaction here (storm locks, then the audit lock, then
        // outbox locks); SQLite's order of the events and of the messages is kept.
        if !changes.audit.isEmpty {
            try await PostgresAuditAppend.append(changes.audit, on: connection, now: now, chain: store.auditChain, logger: logger)
        }
        let messages = effects.messages + changes.slackMessages
        if !messages.isEmpty {
            try await PostgresOutboxEnqueue.enqueue(messages, on: connection, now: now, chain: store.auditChain, logger: logger,
                                                    origin: changes.origin)
        }
        if !changes.progress.isEmpty {
            try await PostgresProgress.set(changes.progress, on: connection, now: now, logger: logger)
        }
        return ChangeSetOutcome(jobIDs: ids, newAlerts: newAlerts, storm: storm)
    }

    /// Each job's id, `nil` when its dedup key already existed (a concurrent insert of the key waits for
    /// the other transaction, then finds it).
    static func insertJobs(_ jobs: [NewJob], on connection: PostgresConnection, now: Date, store: PostgresStore,
                           origin: WorkOrigin? = nil) async throws -> [JobID?] {
        let origin = origin?.storedText
        var ids: [JobID?] = []
        ids.reserveCapacity(jobs.count)
        let seconds = now.timeIntervalSince1970
        for job in jobs {
            let row = try await connection.row("""
                INSERT INTO jobs (kind, payload, dedup_key, state, max_attempts, run_at, created_at, updated_at, origin)
                VALUES (\(job.kind), \(job.payload), \(job.dedupKey), 'queued', \(job.maxAttempts ?? store.defaultMaxAttempts),
                        \((job.runAt ?? now).timeIntervalSince1970), \(seconds), \(seconds), \(origin))
                ON CONFLICT (dedup_key) DO NOTHING
                RETURNING id
                """, store.logger)
            ids.append(try row?["id"].decode(JobID.self))
        }
        return ids
    }

    /// An alert's primary key: one firing episode at one receiver, firing or resolved.
    private struct AlertKey: Hashable {
        var fingerprint: String
        var startsAt: String
        var receiver: String
        var status: String
    }

    /// Inserts the alerts in one statement; returns each one's id, `nil` for a repeat (stored already, or
    /// earlier in the same change set).
    static func insertAlerts(_ alerts: [AlertRecord], on connection: PostgresConnection, _ logger: Logger) async throws -> [Int64?] {
        guard !alerts.isEmpty else { return [] }
        // Arrays carry no NULLs: each optional column comes with a flag saying whether it is set.
        let endsAt: [String] = alerts.map { $0.endsAt ?? "" }
        let hasEndsAt: [Bool] = alerts.map { $0.endsAt != nil }
        let generatorURL: [String] = alerts.map { $0.generatorURL ?? "" }
        let hasGeneratorURL: [Bool] = alerts.map { $0.generatorURL != nil }
        let receivedAt: [Double] = alerts.map { $0.receivedAt.timeIntervalSince1970 }
        let rows = try await connection.rows("""
            INSERT INTO alerts (fingerprint, starts_at, status, group_key, receiver, labels, annotations, ends_at, generator_url,
                                received_at, seen_at)
            SELECT fingerprint, starts_at, status, group_key, receiver, labels, annotations,
                CASE WHEN has_ends_at THEN ends_at END, CASE WHEN has_generator_url THEN generator_url END, received_at, received_at
            FROM unnest(\(alerts.map(\.fingerprint))::text[], \(alerts.map(\.startsAt))::text[], \(alerts.map(\.status))::text[],
                        \(alerts.map(\.groupKey))::text[], \(alerts.map(\.receiver))::text[], \(alerts.map(\.labelsText))::text[],
                        \(alerts.map(\.annotationsText))::text[], \(endsAt)::text[], \(hasEndsAt)::boolean[],
                        \(generatorURL)::text[], \(hasGeneratorURL)::boolean[], \(receivedAt)::float8[])
                WITH ORDINALITY AS a(fingerprint, starts_at, status, group_key, receiver, labels, annotations, ends_at, has_ends_at,
                                     generator_url, has_generator_url, received_at, ord)
            ORDER BY ord
            ON CONFLICT DO NOTHING
            RETURNING id, fingerprint, starts_at, receiver, status
            """, logger)
        var ids: [AlertKey: Int64] = [:]
        for row in rows {
            let key = AlertKey(fingerprint: try row["fingerprint"].decode(String.self), startsAt: try row["starts_at"].decode(String.self),
                               receiver: try row["receiver"].decode(String.self), status: try row["status"].decode(String.self))
            ids[key] = try row["id"].decode(Int64.self)
        }
        // The first alert with a key was inserted; a second one in the same change set is a repeat.
        return alerts.map {
            ids.removeValue(forKey: AlertKey(fingerprint: $0.fingerprint, startsAt: $0.startsAt, receiver: $0.receiver, status: $0.status))
        }
    }

    /// `SQLiteAlertGroups.markSeen` for all the alerts at once: a repeat of a firing alert refreshes its
    /// `seen_at` (when more than `seenInterval` old); a new resolution refreshes its firing record's, so
    /// the episode is pruned by the age of its resolution.
    static func markSeen(_ alerts: [AlertRecord], newAlerts: [Bool], on connection: PostgresConnection,
                         _ logger: Logger) async throws {
        let seen = alerts.indices.filter { index in
            alerts[index].status == "firing" ? !newAlerts[index] : newAlerts[index]
        }.map { alerts[$0] }
        guard !seen.isEmpty else { return }
        let receivedAt: [Double] = seen.map { $0.receivedAt.timeIntervalSince1970 }
        let resolution: [Bool] = seen.map { $0.status != "firing" }
        // For a repeat, GREATEST(seen_at, received) is the received time SQLite sets: its seen_at is older.
        try await connection.run("""
            UPDATE alerts SET seen_at = GREATEST(alerts.seen_at, r.received_at)
            FROM unnest(\(seen.map(\.fingerprint))::text[], \(seen.map(\.startsAt))::text[], \(seen.map(\.receiver))::text[],
                        \(receivedAt)::float8[], \(resolution)::boolean[]) AS r(fingerprint, starts_at, receiver, received_at, resolution)
            WHERE alerts.fingerprint = r.fingerprint AND alerts.starts_at = r.starts_at AND alerts.receiver = r.receiver
                AND alerts.status = 'firing' AND (r.resolution OR alerts.seen_at < r.received_at - \(SQLiteAlertGroups.seenInterval))
            """, logger)
    }

    /// `SQLiteAlertGroups.touch`: records that a notification of the group arrived, with its thread (the
    /// calm root's thread and once key, when it posts), so the thread is pruned with the group.
    static func touch(_ intake: AlertNotificationIntake, on connection: PostgresConnection, _ logger: Logger) async throws {
        let root = intake.calmMessages.root
        try await connection.run("""
            INSERT INTO alert_groups (group_key, thread_key, once_key, seen_at)
            VALUES (\(intake.groupKey), \(root?.threadKey), \(root?.onceKey), \(intake.receivedAt.timeIntervalSince1970))
            ON CONFLICT (group_key) DO UPDATE SET seen_at = GREATEST(alert_groups.seen_at, excluded.seen_at),
                thread_key = COALESCE(excluded.thread_key, alert_groups.thread_key),
                once_key = COALESCE(excluded.once_key, alert_groups.once_key)
            WHERE alert_groups.seen_at < excluded.seen_at - \(SQLiteAlertGroups.seenInterval)
                OR (alert_groups.thread_key IS NULL AND excluded.thread_key IS NOT NULL)
            """, logger)
    }
}
