import Foundation
import HelpdeskCore
import Logging
import PostgresNIO

/// Storm bookkeeping in PostgreSQL, the twin of ``SQLiteStorms``. Replicas share it through one
/// advisory lock per channel (``lockName(_:)``): a notification's write and every change of a
/// storm's state take it, so three replicas see one storm, one digest and one set of diagnoses, as
/// SQLite's single writer does. Lock order, everywhere: storm locks, then the audit lock, then
/// outbox locks.
struct PostgresStorms: StormStore {
    let store: PostgresStore

    /// What the notification's alerts start and post, once the storm state is known.
    struct Effects {
        var jobs: [NewJob] = []
        var messages: [OutboxMessage] = []
    }

    /// The open storm's columns a notification needs.
    struct OpenStorm {
        static let columns = "id, started_at, settle, digest_interval, diagnose_top, posts, threshold, first_alert"

        var id: StormID
        var startedAt: Double
        var settle: Double
        var digestInterval: Double
        var diagnoseTop: Int
        var posts: Bool
        /// NULL: opened before it was kept.
        var threshold: Int?
        var firstAlert: Int64

        init(_ row: PostgresRandomAccessRow) throws {
            id = try row["id"].decode(StormID.self)
            startedAt = try row["started_at"].decode(Double.self)
            settle = try row["settle"].decode(Double.self)
            digestInterval = try row["digest_interval"].decode(Double.self)
            diagnoseTop = try row["diagnose_top"].decode(Int.self)
            posts = try row["posts"].decode(Int64.self) != 0
            threshold = try row["threshold"].decode(Int?.self)
            firstAlert = try row["first_alert"].decode(Int64.self)
        }
    }

    /// The advisory lock serialising a channel's storm bookkeeping across replicas.
    static func lockName(_ channel: String) -> String { "helpdesk.storm:" + channel }

    static func openStorm(channel: String, on connection: PostgresConnection, _ logger: Logger) async throws -> OpenStorm? {
        try await connection.row("""
            SELECT \(unescaped: OpenStorm.columns) FROM storms WHERE channel = \(channel) AND closed_at IS NULL
            """, logger).map(OpenStorm.init)
    }

    /// The calm messages, made only if they can still be queued: every repeat of a group (and
    /// the second copy from an HA pair) would otherwise render a root its once key then drops.
    private static func calmMessages(_ intake: AlertNotificationIntake, on connection: PostgresConnection,
                                     _ logger: Logger) async throws -> [OutboxMessage] {
        guard intake.calmMessages.isRootOnly, let root = intake.calmMessages.root else { return intake.calmMessages.messages }
        let queued = try await connection.row("SELECT 1 AS queued FROM slack_outbox WHERE once_key = \(root.onceKey)", logger) != nil
        return queued ? [] : intake.calmMessages.messages
    }

    /// Called inside the notification's write, under the channel's lock, after its alerts were inserted
    /// (`inserted`: each new alert's id, `nil` for a repeat). The storm's clock is the webhook's receive
    /// time. Returns the effects and the channel's open storm afterwards.
    static func apply(_ intake: AlertNotificationIntake, alerts: [AlertRecord], inserted: [Int64?], on connection: PostgresConnection,
                      now: Date, store: PostgresStore) async throws -> (effects: Effects, storm: StormID?) {
        let logger = store.logger
        let fresh = alerts.indices.filter { inserted[$0] != nil }
        let firing = fresh.filter { alerts[$0].status == "firing" }
        let resolved = fresh.filter { alerts[$0].status != "firing" }
        let clock = intake.receivedAt.timeIntervalSince1970
        let minute = Int64((clock / 60).rounded(.down))
        var storm = try await openStorm(channel: intake.channel, on: connection, logger)
        guard !fresh.isEmpty else {
            guard let storm else { return (Effects(messages: try await calmMessages(intake, on: connection, logger)), nil) }
            return (Effects(), storm.id)
        }
        // Resolutions count too: a flood of them would otherwise post one message each. One statement
        // counts this minute and reads the previous one.
        guard let counts = try await connection.row("""
            WITH counted AS (
                INSERT INTO alert_minutes (channel, minute, firing) VALUES (\(intake.channel), \(minute), \(fresh.count))
                ON CONFLICT (channel, minute) DO UPDATE SET firing = alert_minutes.firing + excluded.firing
                RETURNING firing
            )
            SELECT (SELECT firing FROM counted) AS this_minute,
                (SELECT firing FROM alert_minutes WHERE channel = \(intake.channel) AND minute = \(minute - 1)) AS last_minute
            """, logger)
        else { throw StoreError.unavailable(reason: "counting the alerts of channel \(intake.channel) returned no row") }
        // An open storm is measured against the threshold it opened with (NULL: opened before it was kept).
        let threshold = storm?.threshold ?? intake.rules.threshold
        let pace = StormRules.Pace(current: try counts["this_minute"].decode(Int?.self) ?? 0,
                                   previous: try counts["last_minute"].decode(Int?.self) ?? 0,
                                   minute: minute, at: clock, threshold: threshold)
        if storm == nil, pace.isAbove {
            storm = try await open(intake, firstAlert: fresh.compactMap { inserted[$0] }.min() ?? 0, calmFrom: pace.calmFrom,
                                   on: connection, now: now, store: store)
        }
        guard let storm else {
            let messages = try await calmMessages(intake, on: connection, logger)
            return (Effects(jobs: fresh.flatMap { alerts[$0].onNew }, messages: messages), nil)
        }
        let id = storm.id
        // Resolutions count only for alerts that fired in the storm: their firing record was inserted
        // at or after the storm's first alert (ids grow with every insert, and the channel's lock orders
        // its inserts; no sender's timestamp involved).
        var counted = 0
        if !resolved.isEmpty {
            let episodes = resolved.map { alerts[$0] }
            counted = try await connection.row("""
                SELECT COUNT(*) AS counted FROM alerts a
                JOIN unnest(\(episodes.map(\.fingerprint))::text[], \(episodes.map(\.startsAt))::text[],
                            \(episodes.map(\.receiver))::text[]) AS r(fingerprint, starts_at, receiver)
                    ON a.fingerprint = r.fingerprint AND a.starts_at = r.starts_at AND a.receiver = r.receiver
                WHERE a.status = 'firing' AND a.id >= \(storm.firstAlert)
                """, logger)?["counted"].decode(Int.self) ?? 0
        }
        // Below the threshold, calm_from stays where it was: only a rate above it pushes the storm's end out.
        let calmFrom: Double = pace.isAbove ? pace.calmFrom : 0
        // The group's row is added in the same statement that counts it, so group_count counts it once.
        try await connection.run("""
            WITH added AS (
                INSERT INTO storm_groups (storm_id, group_key, name, severity, firing, resolved)
                VALUES (\(id), \(intake.groupKey), \(intake.groupName), \(intake.severity), 0, 0)
                ON CONFLICT (storm_id, group_key) DO NOTHING
                RETURNING 1
            )
            UPDATE storms SET firing = firing + \(firing.count), resolved = resolved + \(counted),
                last_alert_at = CASE WHEN \(firing.count) > 0 THEN GREATEST(last_alert_at, \(clock)) ELSE last_alert_at END,
                calm_from = GREATEST(calm_from, \(calmFrom)), group_count = group_count + (SELECT COUNT(*) FROM added)
            WHERE id = \(id)
            """, logger)
        try await connection.run("""
            UPDATE storm_groups SET firing = firing + \(firing.count), resolved = resolved + \(counted)
            WHERE storm_id = \(id) AND group_key = \(intake.groupKey)
            """, logger)

        // A resolved alert gives its place back first, so a new alert of the same notification can take it.
        try await Places.resolve(storm: id, resolved.map { alerts[$0] }, on: connection, logger)
        var effects = Effects()
        if !firing.isEmpty {
            // The storm's most severe alerts, chosen across every notification; they run after the settle window.
            let runAt = max(now, Date(timeIntervalSince1970: storm.startedAt + storm.settle))
            var places = try await Places.load(storm: id, top: storm.diagnoseTop, on: connection, logger)
            for index in StormRules.bySeverity(firing, ranks: intake.ranks) {
                let alert = alerts[index]
                guard try await places.take(fingerprint: alert.fingerprint, startsAt: alert.startsAt,
                                            alertname: alert.labels["alertname"]?.description ?? "alert",
                                            severity: alert.labels["severity"]?.description ?? "unknown", rank: intake.ranks[index],
                                            on: connection, logger)
                else { continue }
                effects.jobs += StormRules.settled(alert.onNew, runAt: runAt)
            }
        }
        if storm.posts {
            effects.messages.append(StormRules.digestEdit(id, channel: intake.channel, gap: .seconds(storm.digestInterval)))
        }
        return (effects, id)
    }

    private static func open(_ intake: AlertNotificationIntake, firstAlert: Int64, calmFrom: Double, on connection: PostgresConnection,
                             now: Date, store: PostgresStore) async throws -> OpenStorm {
        let rules = intake.rules
        let clock = intake.receivedAt.timeIntervalSince1970
        // The channel's lock makes this the only open storm; `storms_open` would refuse a second.
        guard let row = try await connection.row("""
            INSERT INTO storms (channel, started_at, last_alert_at, diagnose_top, settle, digest_interval, quiet, posts, threshold,
                                calm_from, first_alert)
            VALUES (\(intake.channel), \(clock), \(clock), \(rules.diagnoseTop), \(rules.settle.seconds), \(rules.digestInterval.seconds),
                    \(rules.quietPeriod.seconds), \(intake.postsToSlack ? 1 : 0), \(rules.threshold), \(calmFrom), \(firstAlert))
            RETURNING \(unescaped: OpenStorm.columns)
            """, store.logger)
        else { throw StoreError.unavailable(reason: "opening a storm in channel \(intake.channel) returned no row") }
        let storm = try OpenStorm(row)
        try await PostgresAuditAppend.append([StormRules.startedEvent(storm: storm.id, channel: intake.channel, threshold: rules.threshold)],
                                             on: connection, now: now, chain: store.auditChain, logger: store.logger)
        if intake.postsToSlack {
            try await PostgresOutboxEnqueue.enqueue([StormRules.rootMessage(storm: storm.id, channel: intake.channel)],
                                                    on: connection, now: now, chain: store.auditChain, logger: store.logger)
        }
        return storm
    }

    /// A storm that looked quiet when every open storm was read.
    private struct QuietStorm: Sendable {
        var id: StormID
        var channel: String
    }

    func closeQuiet(now: Date) async throws -> [StormID] {
        let store = self.store
        let logger = store.logger
        let seconds = now.timeIntervalSince1970
        // Every replica polls: finding nothing to close only reads.
        let quiet = try await store.read { connection -> [QuietStorm] in
            try await connection.rows("""
                SELECT id, channel FROM storms WHERE closed_at IS NULL
                    AND (calm_from + quiet <= \(seconds) OR (resolved >= firing AND last_alert_at + settle <= \(seconds)))
                ORDER BY id
                """, logger).map { QuietStorm(id: try $0["id"].decode(StormID.self), channel: try $0["channel"].decode(String.self)) }
        }
        var closed: [StormID] = []
        // Closings already committed have queued their messages, even if a later one fails.
        defer { if !closed.isEmpty { store.outboxSignal.signal() } }
        for storm in quiet {
            // Each under its channel's lock, the condition checked again: a storm another replica closed,
            // or that a notification kept open meanwhile, is left alone, so it is closed (and summed up) once.
            let didClose = try await store.transaction { connection -> Bool in
                try await connection.lock(Self.lockName(storm.channel), logger)
                guard let row = try await connection.row("""
                    UPDATE storms SET closed_at = \(seconds) WHERE id = \(storm.id) AND closed_at IS NULL
                        AND (calm_from + quiet <= \(seconds) OR (resolved >= firing AND last_alert_at + settle <= \(seconds)))
                    RETURNING posts
                    """, logger)
                else { return false }
                let posts = try row["posts"].decode(Int64.self) != 0
                let snapshot = try await Self.snapshot(.id(storm.id), groupLimit: 0, on: connection, logger)
                try await PostgresAuditAppend.append([StormRules.endedEvent(storm: storm.id, channel: storm.channel, snapshot: snapshot)],
                                                     on: connection, now: now, chain: store.auditChain, logger: logger)
                if posts {
                    try await PostgresOutboxEnqueue.enqueue(StormRules.closingMessages(storm: storm.id, channel: storm.channel),
                                                            on: connection, now: now, chain: store.auditChain, logger: logger)
                }
                return true
            }
            if didClose { closed.append(storm.id) }
        }
        return closed
    }

    func active(channel: String) async throws -> StormSnapshot? {
        let logger = store.logger
        return try await store.transaction { connection -> StormSnapshot? in
            try await Self.readConsistently(on: connection, logger)
            return try await Self.snapshot(.open(channel: channel), groupLimit: 10, on: connection, logger)
        }
    }

    func snapshot(_ id: StormID, groupLimit: Int) async throws -> StormSnapshot? {
        let logger = store.logger
        return try await store.transaction { connection -> StormSnapshot? in
            try await Self.readConsistently(on: connection, logger)
            return try await Self.snapshot(.id(id), groupLimit: groupLimit, on: connection, logger)
        }
    }

    /// A snapshot reads three tables: one view of them, as SQLite's read transaction gives, so the
    /// digest's counts and lists agree. Must be the transaction's first statement.
    private static func readConsistently(on connection: PostgresConnection, _ logger: Logger) async throws {
        try await connection.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger)
    }

    enum StormSelector {
        case id(StormID)
        case open(channel: String)
    }

    static func snapshot(_ selector: StormSelector, groupLimit: Int, on connection: PostgresConnection,
                         _ logger: Logger) async throws -> StormSnapshot? {
        let found: PostgresRandomAccessRow?
        switch selector {
        case .id(let id):
            found = try await connection.row("SELECT * FROM storms WHERE id = \(id)", logger)
        case .open(let channel):
            found = try await connection.row("SELECT * FROM storms WHERE channel = \(channel) AND closed_at IS NULL", logger)
        }
        guard let row = found else { return nil }
        let id = try row["id"].decode(StormID.self)
        // SQLite reads a negative LIMIT as none; LIMIT NULL is PostgreSQL's none.
        var groups: [StormSnapshot.Group] = []
        if groupLimit != 0 {
            groups = try await connection.rows("""
                SELECT group_key, name, severity, firing, resolved FROM storm_groups WHERE storm_id = \(id)
                ORDER BY firing DESC, group_key COLLATE "C" LIMIT \(groupLimit < 0 ? nil : groupLimit)
                """, logger).map {
                StormSnapshot.Group(groupKey: try $0["group_key"].decode(String.self), name: try $0["name"].decode(String.self),
                                    severity: try $0["severity"].decode(String.self), firing: try $0["firing"].decode(Int.self),
                                    resolved: try $0["resolved"].decode(Int.self))
            }
        }
        let candidates = try await connection.rows("""
            SELECT fingerprint, alertname, severity, rank, state, resolved FROM storm_candidates WHERE storm_id = \(id)
            ORDER BY state = 'displaced', rank DESC, id LIMIT \(StormSnapshot.candidateLimit)
            """, logger).map {
            StormSnapshot.Candidate(fingerprint: try $0["fingerprint"].decode(String.self), alertname: try $0["alertname"].decode(String.self),
                                    severity: try $0["severity"].decode(String.self), rank: try $0["rank"].decode(Int.self),
                                    state: StormSnapshot.Candidate.State(rawValue: try $0["state"].decode(String.self)) ?? .displaced,
                                    resolved: try $0["resolved"].decode(Int64.self) != 0)
        }
        return StormSnapshot(id: id, channel: try row["channel"].decode(String.self),
                             startedAt: Date(timeIntervalSince1970: try row["started_at"].decode(Double.self)),
                             lastAlertAt: Date(timeIntervalSince1970: try row["last_alert_at"].decode(Double.self)),
                             closedAt: try row["closed_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
                             firing: try row["firing"].decode(Int.self), resolved: try row["resolved"].decode(Int.self),
                             groupCount: try row["group_count"].decode(Int.self), diagnoseTop: try row["diagnose_top"].decode(Int.self),
                             groups: groups, candidates: candidates)
    }
}
