import Foundation
import Logging
import PostgresNIO

extension PostgresStorms {
    /// The places among a storm's diagnoses: the candidates holding one (queued or started, not
    /// resolved), at most `top`, read through the `storm_candidates_places` partial index. A queued
    /// one gives its place to a more severe alert; a started one keeps it until it resolves.
    /// Only used under the storm's channel lock, so the holders read stay the holders until commit.
    struct Places {
        let storm: StormID
        let top: Int
        var holders: [StormRules.Holder]

        static func load(storm: StormID, top: Int, on connection: PostgresConnection, _ logger: Logger) async throws -> Places {
            let holders = try await connection.rows("""
                SELECT id, rank, state FROM storm_candidates WHERE storm_id = \(storm) AND state != 'displaced' AND resolved = 0
                """, logger).map { row in
                StormRules.Holder(id: try row["id"].decode(Int64.self), rank: try row["rank"].decode(Int.self),
                                  queued: try row["state"].decode(String.self) == "queued")
            }
            return Places(storm: storm, top: top, holders: holders)
        }

        /// Gives the alert a place when one is free, or takes the place of the weakest queued holder
        /// when the alert is more severe (``StormRules/place(rank:holders:top:)``); `false` when it gets none.
        mutating func take(fingerprint: String, startsAt: String, alertname: String, severity: String, rank: Int,
                           on connection: PostgresConnection, _ logger: Logger) async throws -> Bool {
            var weakest: Int?
            switch StormRules.place(rank: rank, holders: holders, top: top) {
            case .free: break
            case .displacing(let index): weakest = index
            case .full: return false
            }
            // One statement: the weakest holder is displaced only if the alert became a candidate.
            let displaced: Int64? = weakest.map { holders[$0].id }
            let added = try await connection.row("""
                WITH added AS (
                    INSERT INTO storm_candidates (storm_id, fingerprint, starts_at, alertname, severity, rank, state)
                    VALUES (\(storm), \(fingerprint), \(startsAt), \(alertname), \(severity), \(rank), 'queued')
                    ON CONFLICT DO NOTHING
                    RETURNING id
                ), displaced AS (
                    UPDATE storm_candidates SET state = 'displaced' WHERE id = \(displaced) AND EXISTS (SELECT 1 FROM added)
                )
                SELECT id FROM added
                """, logger)
            guard let added else { return false }  // a candidate of this storm already (it had its turn)
            let id = try added["id"].decode(Int64.self)
            if let weakest { holders.remove(at: weakest) }
            holders.append(StormRules.Holder(id: id, rank: rank, queued: true))
            return true
        }

        /// Resolved alerts give their places back: a started one stays `started` (it was diagnosed); a
        /// queued one is not diagnosed at all, or the storm would diagnose more than `top`.
        static func resolve(storm: StormID, _ alerts: [AlertRecord], on connection: PostgresConnection, _ logger: Logger) async throws {
            guard !alerts.isEmpty else { return }
            try await connection.run("""
                UPDATE storm_candidates SET resolved = 1, state = CASE state WHEN 'queued' THEN 'displaced' ELSE state END
                FROM unnest(\(alerts.map(\.fingerprint))::text[], \(alerts.map(\.startsAt))::text[]) AS r(fingerprint, starts_at)
                WHERE storm_candidates.storm_id = \(storm) AND storm_candidates.fingerprint = r.fingerprint
                    AND storm_candidates.starts_at = r.starts_at
                """, logger)
        }

        /// A queued alert that is not to be diagnosed (its cooldown) gives its place back.
        static func release(storm: StormID, fingerprint: String, startsAt: String, on connection: PostgresConnection,
                            _ logger: Logger) async throws {
            try await connection.run("""
                UPDATE storm_candidates SET state = 'displaced'
                WHERE storm_id = \(storm) AND fingerprint = \(fingerprint) AND starts_at = \(startsAt) AND state = 'queued'
                """, logger)
        }
    }
}

extension PostgresStorms {
    /// An alert's newest candidate row, with its storm's channel.
    struct Candidate {
        var storm: StormID
        var channel: String
        var state: StormSnapshot.Candidate.State?
        /// When the storm's settle window ends (seconds since 1970).
        var settled: Double
    }

    /// The alert's newest candidate (of any storm), read under the lock of that storm's channel. The
    /// alert's own channel is locked first (its candidates are almost always there); when the newest is
    /// in another channel's storm (the alert reached the bot through another receiver too), that channel
    /// is locked as well and the candidate read again.
    static func lockedCandidate(of alert: StormDiagnosisRequest, on connection: PostgresConnection,
                                _ logger: Logger) async throws -> Candidate? {
        var locked: Set<String> = []
        if let channel = alert.channel {
            try await connection.lock(lockName(channel), logger)
            locked.insert(channel)
        }
        while true {
            guard let row = try await connection.row("""
                SELECT c.storm_id, c.state, s.started_at + s.settle AS settled, s.channel
                FROM storm_candidates c JOIN storms s ON s.id = c.storm_id
                WHERE c.fingerprint = \(alert.fingerprint) AND c.starts_at = \(alert.startsAt) ORDER BY c.storm_id DESC LIMIT 1
                """, logger)
            else { return nil }
            let candidate = Candidate(storm: try row["storm_id"].decode(StormID.self), channel: try row["channel"].decode(String.self),
                                      state: StormSnapshot.Candidate.State(rawValue: try row["state"].decode(String.self)),
                                      settled: try row["settled"].decode(Double.self))
            if locked.contains(candidate.channel) { return candidate }
            try await connection.lock(lockName(candidate.channel), logger)
            locked.insert(candidate.channel)
        }
    }

    func claimDiagnosis(_ alert: StormDiagnosisRequest, now: Date) async throws -> StormDiagnosisClaim {
        let logger = store.logger
        return try await store.transaction { connection -> StormDiagnosisClaim in
            var candidate = try await Self.lockedCandidate(of: alert, on: connection, logger)
            if candidate == nil, let channel = alert.channel, let storm = try await Self.openStorm(channel: channel, on: connection, logger) {
                // Queued before its channel's storm began: it competes with the storm's alerts like one of them.
                var places = try await Places.load(storm: storm.id, top: storm.diagnoseTop, on: connection, logger)
                guard try await places.take(fingerprint: alert.fingerprint, startsAt: alert.startsAt, alertname: alert.alertname,
                                            severity: alert.severity, rank: alert.rank, on: connection, logger)
                else { return .skipped(storm.id) }
                candidate = Candidate(storm: storm.id, channel: channel, state: .queued, settled: storm.startedAt + storm.settle)
            }
            guard let candidate else { return .calm }
            switch candidate.state {
            case .queued:
                let settled = Date(timeIntervalSince1970: candidate.settled)
                if settled > now { return .later(candidate.storm, settled) }
                try await connection.run("""
                    UPDATE storm_candidates SET state = 'started'
                    WHERE storm_id = \(candidate.storm) AND fingerprint = \(alert.fingerprint) AND starts_at = \(alert.startsAt)
                    """, logger)
                return .chosen(candidate.storm)
            case .started:
                return .chosen(candidate.storm)  // a retry of the same job after a crash
            case .displaced, nil:
                return .skipped(candidate.storm)
            }
        }
    }

    func releaseDiagnosis(_ alert: StormDiagnosisRequest) async throws -> StormPlaceRelease {
        let logger = store.logger
        return try await store.transaction { connection -> StormPlaceRelease in
            if let candidate = try await Self.lockedCandidate(of: alert, on: connection, logger) {
                switch candidate.state {
                case .queued:
                    try await Places.release(storm: candidate.storm, fingerprint: alert.fingerprint, startsAt: alert.startsAt,
                                             on: connection, logger)
                    return .released(candidate.storm)
                case .started:
                    return .released(candidate.storm)  // diagnosed already (a retry): the place stays its own until it resolves
                case .displaced, nil:
                    return .notHeld(candidate.storm)
                }
            }
            guard let channel = alert.channel, let storm = try await Self.openStorm(channel: channel, on: connection, logger)
            else { return .calm }
            return .notHeld(storm.id)
        }
    }
}
