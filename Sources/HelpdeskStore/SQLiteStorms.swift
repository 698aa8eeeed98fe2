import Foundation
import GRDB
import HelpdeskCore

/// Storm bookkeeping in SQLite. Per notification it costs a fixed number of indexed row reads and
/// writes (a counter row per channel and minute, the open storm, one group row, one primary-key read
/// per resolution, the at most `diagnoseTop` places held, read once through a partial index), never
/// a scan of the alerts received or of the storm's past candidates.
struct SQLiteStorms: StormStore {
    let store: SQLiteStore

    /// What the notification's alerts start and post, once the storm state is known.
    struct Effects {
        var jobs: [NewJob] = []
        var messages: [OutboxMessage] = []
    }

    /// The open storm's columns a notification needs.
    static let openStormSQL = """
        SELECT id, started_at, settle, digest_interval, diagnose_top, posts, threshold, first_alert FROM storms
        WHERE channel = ? AND closed_at IS NULL
        """

    /// Called inside the notification's write, after its alerts were inserted (`inserted`: each new
    /// alert's rowid, `nil` for a repeat). The storm's clock is the webhook's receive time.
    /// The calm messages, made only if they can still be queued: every repeat of a group (and
    /// the second copy from an HA pair) would otherwise render a root its once key then drops.
    private static func calmMessages(_ intake: AlertNotificationIntake, in db: Database) throws -> [OutboxMessage] {
        if intake.calmMessages.isRootOnly, let root = intake.calmMessages.root,
           try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM slack_outbox WHERE once_key = ?"), arguments: [root.onceKey]) != nil {
            return []
        }
        return intake.calmMessages.messages
    }

    static func apply(_ intake: AlertNotificationIntake, alerts: [AlertRecord], inserted: [Int64?], in db: Database, now: Date) throws -> Effects {
        let fresh = alerts.indices.filter { inserted[$0] != nil }
        let firing = fresh.filter { alerts[$0].status == "firing" }
        let resolved = fresh.filter { alerts[$0].status != "firing" }
        let clock = intake.receivedAt.timeIntervalSince1970
        let minute = Int64((clock / 60).rounded(.down))
        var storm = try Row.fetchOne(db.cachedStatement(sql: openStormSQL), arguments: [intake.channel])
        guard !fresh.isEmpty else {
            return try storm == nil ? Effects(messages: calmMessages(intake, in: db)) : Effects()
        }
        // Resolutions count too: a flood of them would otherwise post one message each.
        try db.run("""
            INSERT INTO alert_minutes (channel, minute, firing) VALUES (?, ?, ?)
            ON CONFLICT (channel, minute) DO UPDATE SET firing = firing + excluded.firing
            """, [intake.channel, minute, fresh.count])
        // An open storm is measured against the threshold it opened with (NULL: opened before it was kept).
        let threshold = storm.flatMap { $0["threshold"] as Int? } ?? intake.rules.threshold
        let counts = try Row.fetchAll(db.cachedStatement(sql: "SELECT minute, firing FROM alert_minutes WHERE channel = ? AND minute IN (?, ?)"),
                                      arguments: [intake.channel, minute, minute - 1])
        let pace = StormRules.Pace(current: counts.first { ($0["minute"] as Int64) == minute }.map { $0["firing"] as Int } ?? 0,
                                   previous: counts.first { ($0["minute"] as Int64) == minute - 1 }.map { $0["firing"] as Int } ?? 0,
                                   minute: minute, at: clock, threshold: threshold)
        if storm == nil, pace.isAbove {
            storm = try open(intake, firstAlert: fresh.compactMap { inserted[$0] }.min() ?? 0, calmFrom: pace.calmFrom, in: db, now: now)
        }
        guard let storm else {
            return try Effects(jobs: fresh.flatMap { alerts[$0].onNew }, messages: calmMessages(intake, in: db))
        }
        let id: StormID = storm["id"]
        // Resolutions count only for alerts that fired in the storm: their firing record was inserted
        // at or after the storm's first alert (rowids grow with every insert; no sender's timestamp involved).
        let firstAlert: Int64 = storm["first_alert"]
        var counted = 0
        for index in resolved {
            let alert = alerts[index]
            let fired = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT rowid FROM alerts WHERE fingerprint = ? AND starts_at = ? AND receiver = ? AND status = 'firing'
                """), arguments: [alert.fingerprint, alert.startsAt, alert.receiver])
            if let fired, fired >= firstAlert { counted += 1 }
        }
        // Below the threshold, calm_from stays where it was: only a rate above it pushes the storm's end out.
        let calmFrom: Double = pace.isAbove ? pace.calmFrom : 0
        try db.run("""
            UPDATE storms SET firing = firing + ?, resolved = resolved + ?,
                last_alert_at = CASE WHEN ? > 0 THEN max(last_alert_at, ?) ELSE last_alert_at END, calm_from = max(calm_from, ?)
            WHERE id = ?
            """, [firing.count, counted, firing.count, clock, calmFrom, id])
        try db.run("""
            INSERT INTO storm_groups (storm_id, group_key, name, severity, firing, resolved) VALUES (?, ?, ?, ?, 0, 0)
            ON CONFLICT (storm_id, group_key) DO NOTHING
            """, [id, intake.groupKey, intake.groupName, intake.severity])
        if db.changesCount == 1 { try db.run("UPDATE storms SET group_count = group_count + 1 WHERE id = ?", [id]) }
        try db.run("UPDATE storm_groups SET firing = firing + ?, resolved = resolved + ? WHERE storm_id = ? AND group_key = ?",
                   [firing.count, counted, id, intake.groupKey])

        // A resolved alert gives its place back first, so a new alert of the same notification can take it.
        for index in resolved {
            try Places.resolve(storm: id, fingerprint: alerts[index].fingerprint, startsAt: alerts[index].startsAt, in: db)
        }
        var effects = Effects()
        if !firing.isEmpty {
            // The storm's most severe alerts, chosen across every notification; they run after the settle window.
            let runAt = max(now, Date(timeIntervalSince1970: storm["started_at"] as Double + storm["settle"] as Double))
            var places = try Places.load(storm: id, top: storm["diagnose_top"], in: db)
            for index in StormRules.bySeverity(firing, ranks: intake.ranks) {
                let alert = alerts[index]
                guard try places.take(fingerprint: alert.fingerprint, startsAt: alert.startsAt,
                                      alertname: alert.labels["alertname"]?.description ?? "alert",
                                      severity: alert.labels["severity"]?.description ?? "unknown", rank: intake.ranks[index], in: db)
                else { continue }
                effects.jobs += StormRules.settled(alert.onNew, runAt: runAt)
            }
        }
        if storm["posts"] as Bool {
            effects.messages.append(StormRules.digestEdit(id, channel: intake.channel, gap: .seconds(storm["digest_interval"] as Double)))
        }
        return effects
    }

    private static func open(_ intake: AlertNotificationIntake, firstAlert: Int64, calmFrom: Double, in db: Database, now: Date) throws -> Row? {
        let rules = intake.rules
        let clock = intake.receivedAt.timeIntervalSince1970
        try db.run("""
            INSERT INTO storms (channel, started_at, last_alert_at, diagnose_top, settle, digest_interval, quiet, posts, threshold, calm_from,
                                first_alert)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [intake.channel, clock, clock, rules.diagnoseTop, rules.settle.seconds, rules.digestInterval.seconds,
                  rules.quietPeriod.seconds, intake.postsToSlack, rules.threshold, calmFrom, firstAlert])
        let id = db.lastInsertedRowID
        try SQLiteAuditLog.append([StormRules.startedEvent(storm: id, channel: intake.channel, threshold: rules.threshold)], in: db, now: now)
        if intake.postsToSlack {
            try SQLiteSlackOutbox.enqueue([StormRules.rootMessage(storm: id, channel: intake.channel)], in: db, now: now)
        }
        return try Row.fetchOne(db.cachedStatement(sql: openStormSQL), arguments: [intake.channel])
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
            SELECT fingerprint, alertname, severity, rank, state, resolved FROM storm_candidates WHERE storm_id = ?
            ORDER BY state = 'displaced', rank DESC, rowid LIMIT ?
            """), arguments: [id, StormSnapshot.candidateLimit]).map {
            StormSnapshot.Candidate(fingerprint: $0["fingerprint"], alertname: $0["alertname"], severity: $0["severity"], rank: $0["rank"],
                                    state: StormSnapshot.Candidate.State(rawValue: $0["state"]) ?? .displaced, resolved: $0["resolved"])
        }
        return StormSnapshot(id: id, channel: row["channel"], startedAt: Date(timeIntervalSince1970: row["started_at"]),
                             lastAlertAt: Date(timeIntervalSince1970: row["last_alert_at"]),
                             closedAt: (row["closed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                             firing: row["firing"], resolved: row["resolved"], groupCount: row["group_count"], diagnoseTop: row["diagnose_top"],
                             groups: groups, candidates: candidates)
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
                var places = try Places.load(storm: storm["id"], top: storm["diagnose_top"], in: db)
                guard try places.take(fingerprint: alert.fingerprint, startsAt: alert.startsAt, alertname: alert.alertname,
                                      severity: alert.severity, rank: alert.rank, in: db)
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

    func releaseDiagnosis(_ alert: StormDiagnosisRequest) async throws -> StormPlaceRelease {
        try await store.writer.write { db in
            if let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT storm_id, state FROM storm_candidates WHERE fingerprint = ? AND starts_at = ? ORDER BY storm_id DESC LIMIT 1
                """), arguments: [alert.fingerprint, alert.startsAt]) {
                let id: StormID = row["storm_id"]
                switch StormSnapshot.Candidate.State(rawValue: row["state"]) {
                case .queued:
                    try Places.release(storm: id, fingerprint: alert.fingerprint, startsAt: alert.startsAt, in: db)
                    return .released(id)
                case .started:
                    return .released(id)  // diagnosed already (a retry): the place stays its own until it resolves
                case .displaced, nil:
                    return .notHeld(id)
                }
            }
            guard let channel = alert.channel,
                  let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM storms WHERE channel = ? AND closed_at IS NULL"), arguments: [channel])
            else { return .calm }
            return .notHeld(id)
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
                  AND (calm_from + quiet <= ? OR (resolved >= firing AND last_alert_at + settle <= ?))
                """), arguments: [seconds, seconds])
            for row in rows {
                let id: StormID = row["id"]
                try db.run("UPDATE storms SET closed_at = ? WHERE id = ?", [seconds, id])
                let snapshot = try Self.snapshot(id, groupLimit: 0, in: db)
                let channel: String = row["channel"]
                try SQLiteAuditLog.append([StormRules.endedEvent(storm: id, channel: channel, snapshot: snapshot)], in: db, now: now)
                if row["posts"] as Bool {
                    try SQLiteSlackOutbox.enqueue(StormRules.closingMessages(storm: id, channel: channel), in: db, now: now)
                }
            }
            return rows.map { $0["id"] as StormID }
        }
        if !closed.isEmpty { store.outboxSignal.signal() }
        return closed
    }
}
