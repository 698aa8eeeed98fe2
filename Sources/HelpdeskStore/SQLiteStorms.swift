import Foundation
import GRDB
import HelpdeskCore

/// Storm bookkeeping in SQLite. Per notification it costs a fixed number of indexed row reads and
/// writes (a counter row per channel and minute, the open storm, one group row, at most
/// `diagnoseTop` candidates), never a scan of the alerts received.
struct SQLiteStorms: StormStore {
    let store: SQLiteStore

    /// What the notification's alerts start and post, once the storm state is known.
    struct Effects {
        var jobs: [NewJob] = []
        var messages: [OutboxMessage] = []
    }

    /// Called inside the notification's write, after its alerts were inserted (`isNew` per alert).
    static func apply(_ intake: AlertNotificationIntake, alerts: [AlertRecord], isNew: [Bool], in db: Database, now: Date) throws -> Effects {
        let fresh = alerts.indices.filter { isNew[$0] }
        let firing = fresh.filter { alerts[$0].status == "firing" }
        let resolved = fresh.filter { alerts[$0].status != "firing" }
        let seconds = now.timeIntervalSince1970
        let minute = Int64((seconds / 60).rounded(.down))
        // Resolutions count too: a flood of them would otherwise post one message each.
        if !fresh.isEmpty {
            try db.run("""
                INSERT INTO alert_minutes (channel, minute, firing) VALUES (?, ?, ?)
                ON CONFLICT (channel, minute) DO UPDATE SET firing = firing + excluded.firing
                """, [intake.channel, minute, fresh.count])
        }
        var storm = try Row.fetchOne(db.cachedStatement(sql: "SELECT id, started_at, settle, digest_interval, diagnose_top, posts FROM storms WHERE channel = ? AND closed_at IS NULL"), arguments: [intake.channel])
        if storm == nil, !fresh.isEmpty {
            // A sliding minute from two counter rows: the previous minute weighted by how much of it is still inside the window.
            let counts = try Row.fetchAll(db.cachedStatement(sql: "SELECT minute, firing FROM alert_minutes WHERE channel = ? AND minute IN (?, ?)"), arguments: [intake.channel, minute, minute - 1])
            let current = counts.first { ($0["minute"] as Int64) == minute }.map { $0["firing"] as Int } ?? 0
            let previous = counts.first { ($0["minute"] as Int64) == minute - 1 }.map { $0["firing"] as Int } ?? 0
            let elapsed = seconds / 60 - Double(minute)
            if Double(current) + Double(previous) * (1 - elapsed) > Double(intake.rules.threshold) {
                storm = try open(intake, in: db, now: now)
            }
        }
        guard let storm else {
            return Effects(jobs: fresh.flatMap { alerts[$0].onNew }, messages: intake.calmMessages)
        }
        let id: StormID = storm["id"]
        var effects = Effects()
        guard !fresh.isEmpty else { return effects }
        try db.run("""
            UPDATE storms SET firing = firing + ?, resolved = resolved + ?, last_alert_at = CASE WHEN ? > 0 THEN ? ELSE last_alert_at END WHERE id = ?
            """, [firing.count, resolved.count, firing.count, seconds, id])
        try db.run("""
            INSERT INTO storm_groups (storm_id, group_key, name, severity, firing, resolved) VALUES (?, ?, ?, ?, 0, 0)
            ON CONFLICT (storm_id, group_key) DO NOTHING
            """, [id, intake.groupKey, intake.groupName, intake.severity])
        if db.changesCount == 1 { try db.run("UPDATE storms SET group_count = group_count + 1 WHERE id = ?", [id]) }
        try db.run("UPDATE storm_groups SET firing = firing + ?, resolved = resolved + ? WHERE storm_id = ? AND group_key = ?", [firing.count, resolved.count, id, intake.groupKey])

        // The storm's most severe alerts, chosen across every notification; they run after the settle window.
        let runAt = max(now, Date(timeIntervalSince1970: storm["started_at"] as Double + storm["settle"] as Double))
        for index in firing.sorted(by: { intake.ranks[$0] > intake.ranks[$1] }) {
            let alert = alerts[index]
            guard try select(storm: id, top: storm["diagnose_top"], fingerprint: alert.fingerprint, startsAt: alert.startsAt,
                             alertname: alert.labels["alertname"]?.description ?? "alert", severity: alert.labels["severity"]?.description ?? "unknown",
                             rank: intake.ranks[index], in: db) else { continue }
            effects.jobs += alert.onNew.map { job in
                var job = job
                job.runAt = max(job.runAt ?? runAt, runAt)
                return job
            }
        }
        for index in resolved {
            try db.run("UPDATE storm_candidates SET resolved = 1 WHERE storm_id = ? AND fingerprint = ? AND starts_at = ?", [id, alerts[index].fingerprint, alerts[index].startsAt])
        }
        if storm["posts"] as Bool {
            effects.messages.append(digestEdit(id, channel: intake.channel, gap: .seconds(storm["digest_interval"] as Double)))
        }
        return effects
    }

    private static func open(_ intake: AlertNotificationIntake, in db: Database, now: Date) throws -> Row? {
        let rules = intake.rules
        try db.run("""
            INSERT INTO storms (channel, started_at, last_alert_at, diagnose_top, settle, digest_interval, quiet, posts)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [intake.channel, now.timeIntervalSince1970, now.timeIntervalSince1970, rules.diagnoseTop, rules.settle.seconds,
                             rules.digestInterval.seconds, rules.quietPeriod.seconds, intake.postsToSlack])
        let id = db.lastInsertedRowID
        try SQLiteAuditLog.append([AuditDraft(kind: "storm_started", principal: "service:alertmanager", target: intake.channel,
                                              data: .object(["storm": .number(Double(id)), "threshold": .number(Double(rules.threshold))]))],
                                  in: db, now: now)
        if intake.postsToSlack {
            try SQLiteSlackOutbox.enqueue([OutboxMessage(channel: intake.channel, body: .object(["text": .string("Alert storm")]),
                                                         threadKey: StormSnapshot.threadKey(id), isRoot: true, onceKey: "storm-root:\(id)",
                                                         rendered: .stormDigest(id))], in: db, now: now)
        }
        return try Row.fetchOne(db.cachedStatement(sql: "SELECT id, started_at, settle, digest_interval, diagnose_top, posts FROM storms WHERE id = ?"), arguments: [id])
    }

    /// Makes an alert one of the storm's chosen few when there is room, or when it is more severe
    /// than a chosen one that has not started (which is displaced); `false` when it is not chosen.
    static func select(storm id: StormID, top: Int, fingerprint: String, startsAt: String, alertname: String, severity: String, rank: Int,
                       in db: Database) throws -> Bool {
        let chosen = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM storm_candidates WHERE storm_id = ? AND state != 'displaced'"), arguments: [id]) ?? 0
        if chosen >= top {
            guard let weakest = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT fingerprint, starts_at FROM storm_candidates WHERE storm_id = ? AND state = 'queued' AND rank < ?
                ORDER BY rank, rowid DESC LIMIT 1
                """), arguments: [id, rank]) else { return false }
            try db.run("UPDATE storm_candidates SET state = 'displaced' WHERE storm_id = ? AND fingerprint = ? AND starts_at = ?", [id, weakest["fingerprint"] as String, weakest["starts_at"] as String])
        }
        try db.run("""
            INSERT INTO storm_candidates (storm_id, fingerprint, starts_at, alertname, severity, rank, state) VALUES (?, ?, ?, ?, ?, ?, 'queued')
            ON CONFLICT DO NOTHING
            """, [id, fingerprint, startsAt, alertname, severity, rank])
        return true
    }

    private static func digestEdit(_ id: StormID, channel: String, gap: Duration) -> OutboxMessage {
        OutboxMessage(channel: channel, method: .update, body: .object([:]), threadKey: StormSnapshot.threadKey(id),
                      rendered: .stormDigest(id), editGap: gap)
    }

    func active(channel: String) async throws -> StormSnapshot? {
        try await store.database.read { db in
            try Int64.fetchOne(db, sql: "SELECT id FROM storms WHERE channel = ? AND closed_at IS NULL", arguments: [channel])
                .flatMap { try Self.snapshot($0, groupLimit: 10, in: db) }
        }
    }

    func snapshot(_ id: StormID, groupLimit: Int) async throws -> StormSnapshot? {
        try await store.database.read { db in try Self.snapshot(id, groupLimit: groupLimit, in: db) }
    }

    static func snapshot(_ id: StormID, groupLimit: Int, in db: Database) throws -> StormSnapshot? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM storms WHERE id = ?"), arguments: [id]) else { return nil }
        let groups = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT group_key, name, severity, firing, resolved FROM storm_groups WHERE storm_id = ? ORDER BY firing DESC, group_key LIMIT ?
            """), arguments: [id, groupLimit]).map {
            StormSnapshot.Group(groupKey: $0["group_key"], name: $0["name"], severity: $0["severity"], firing: $0["firing"], resolved: $0["resolved"])
        }
        let candidates = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT fingerprint, alertname, severity, rank, state, resolved FROM storm_candidates WHERE storm_id = ? ORDER BY rank DESC, rowid
            """), arguments: [id]).map {
            StormSnapshot.Candidate(fingerprint: $0["fingerprint"], alertname: $0["alertname"], severity: $0["severity"], rank: $0["rank"],
                                    state: StormSnapshot.Candidate.State(rawValue: $0["state"]) ?? .displaced, resolved: $0["resolved"])
        }
        return StormSnapshot(id: id, channel: row["channel"], startedAt: Date(timeIntervalSince1970: row["started_at"]),
                             lastAlertAt: Date(timeIntervalSince1970: row["last_alert_at"]),
                             closedAt: (row["closed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                             firing: row["firing"], resolved: row["resolved"], groupCount: row["group_count"], groups: groups, candidates: candidates)
    }

    func claimDiagnosis(_ alert: StormDiagnosisRequest, now: Date) async throws -> StormDiagnosisClaim {
        try await store.writer.write { db in
            var row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT c.storm_id, c.state, s.started_at + s.settle AS settled FROM storm_candidates c JOIN storms s ON s.id = c.storm_id
                WHERE c.fingerprint = ? AND c.starts_at = ? ORDER BY c.storm_id DESC LIMIT 1
                """), arguments: [alert.fingerprint, alert.startsAt])
            if row == nil, let channel = alert.channel,
               let storm = try Row.fetchOne(db.cachedStatement(sql: "SELECT id, diagnose_top FROM storms WHERE channel = ? AND closed_at IS NULL"), arguments: [channel]) {
                // Queued before its channel's storm began: it competes with the storm's alerts like one of them.
                guard try Self.select(storm: storm["id"], top: storm["diagnose_top"], fingerprint: alert.fingerprint, startsAt: alert.startsAt,
                                      alertname: alert.alertname, severity: alert.severity, rank: alert.rank, in: db)
                else { return .skipped(storm["id"]) }
                row = try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT c.storm_id, c.state, s.started_at + s.settle AS settled FROM storm_candidates c JOIN storms s ON s.id = c.storm_id
                    WHERE c.storm_id = ? AND c.fingerprint = ? AND c.starts_at = ?
                    """), arguments: [storm["id"] as StormID, alert.fingerprint, alert.startsAt])
            }
            guard let row else { return .calm }
            let id: StormID = row["storm_id"]
            switch StormSnapshot.Candidate.State(rawValue: row["state"]) {
            case .queued:
                let settled = Date(timeIntervalSince1970: row["settled"])
                if settled > now { return .later(id, settled) }
                try db.run("UPDATE storm_candidates SET state = 'started' WHERE storm_id = ? AND fingerprint = ? AND starts_at = ?", [id, alert.fingerprint, alert.startsAt])
                return .chosen(id)
            case .started:
                return .chosen(id)  // a retry of the same job after a crash
            case .displaced, nil:
                return .skipped(id)
            }
        }
    }

    func closeQuiet(now: Date) async throws -> [StormID] {
        let seconds = now.timeIntervalSince1970
        let anyOpen = try await store.database.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM storms WHERE closed_at IS NULL)") ?? false
        }
        guard anyOpen else { return [] }
        let closed = try await store.writer.write { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT id, channel, digest_interval, posts FROM storms WHERE closed_at IS NULL
                  AND (last_alert_at + quiet <= ? OR (resolved >= firing AND last_alert_at + settle <= ?))
                """), arguments: [seconds, seconds])
            for row in rows {
                let id: StormID = row["id"]
                try db.run("UPDATE storms SET closed_at = ? WHERE id = ?", [seconds, id])
                let snapshot = try Self.snapshot(id, groupLimit: 0, in: db)
                try SQLiteAuditLog.append([AuditDraft(kind: "storm_ended", principal: "service:alertmanager", target: row["channel"], data: .object([
                    "storm": .number(Double(id)), "firing": .number(Double(snapshot?.firing ?? 0)), "resolved": .number(Double(snapshot?.resolved ?? 0)),
                    "groups": .number(Double(snapshot?.groupCount ?? 0)),
                    "diagnosed": .array((snapshot?.candidates ?? []).filter { $0.state != .displaced }.map { .string($0.fingerprint) }),
                ]))], in: db, now: now)
                if row["posts"] as Bool {
                    let channel: String = row["channel"]
                    try SQLiteSlackOutbox.enqueue([
                        Self.digestEdit(id, channel: channel, gap: .zero),
                        OutboxMessage(channel: channel, body: .object(["text": .string("Alert storm ended")]), threadKey: StormSnapshot.threadKey(id),
                                      onceKey: "storm-summary:\(id)", rendered: .stormSummary(id)),
                    ], in: db, now: now)
                }
            }
            return rows.map { $0["id"] as StormID }
        }
        if !closed.isEmpty { store.outboxSignal.signal() }
        return closed
    }
}
