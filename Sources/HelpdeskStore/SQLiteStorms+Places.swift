import Foundation
import GRDB

extension SQLiteStorms {
    /// A channel's alert rate as storms see it: a sliding minute made of two counter rows, the
    /// previous minute weighted by how much of it is still inside the window.
    struct Pace: Equatable {
        /// Alerts (firing or resolved) in the sliding minute ending at the time asked about.
        var rate: Double
        var threshold: Int
        /// When the rate falls to the threshold or below if no further alert arrives (seconds since
        /// 1970); the time asked about when it already is.
        var calmFrom: Double

        var isAbove: Bool { rate > Double(threshold) }

        /// - Parameters:
        ///   - current: alerts counted in `minute`, the minute holding `seconds`.
        ///   - previous: alerts counted in the minute before.
        init(current: Int, previous: Int, minute: Int64, at seconds: Double, threshold: Int) {
            let start = Double(minute) * 60
            let elapsed = min(max((seconds - start) / 60, 0), 1)
            let limit = Double(threshold), now = Double(current), before = Double(previous)
            rate = now + before * (1 - elapsed)
            self.threshold = threshold
            if rate <= limit {
                calmFrom = seconds
            } else if now <= limit {
                // Within this minute, as the previous one slides out: now + before × (1 − e) ≤ limit.
                calmFrom = start + 60 * (1 - (limit - now) / before)
            } else {
                // In the next minute, as this one slides out: now × (1 − e) ≤ limit.
                calmFrom = start + 60 + 60 * (1 - limit / now)
            }
        }
    }

    /// The places among a storm's diagnoses: the candidates holding one (queued or started, not
    /// resolved), at most `top`, read through the `storm_candidates_places` partial index. A queued
    /// one gives its place to a more severe alert; a started one keeps it until it resolves.
    struct Places {
        struct Holder {
            var rowID: Int64
            var rank: Int
            var queued: Bool
        }

        let storm: StormID
        let top: Int
        var holders: [Holder]

        static func load(storm: StormID, top: Int, in db: Database) throws -> Places {
            let holders = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT rowid, rank, state FROM storm_candidates WHERE storm_id = ? AND state != 'displaced' AND resolved = 0
                """), arguments: [storm]).map { Holder(rowID: $0["rowid"], rank: $0["rank"], queued: ($0["state"] as String) == "queued") }
            return Places(storm: storm, top: top, holders: holders)
        }

        /// Gives the alert a place when one is free, or takes the place of the weakest queued holder
        /// (lowest rank, newest) when the alert is more severe; `false` when it gets none.
        mutating func take(fingerprint: String, startsAt: String, alertname: String, severity: String, rank: Int, in db: Database) throws -> Bool {
            var weakest: Int?
            if holders.count >= top {
                weakest = holders.indices.filter { holders[$0].queued && holders[$0].rank < rank }
                    .min { (holders[$0].rank, -holders[$0].rowID) < (holders[$1].rank, -holders[$1].rowID) }
                guard weakest != nil else { return false }
            }
            try db.run("""
                INSERT INTO storm_candidates (storm_id, fingerprint, starts_at, alertname, severity, rank, state) VALUES (?, ?, ?, ?, ?, ?, 'queued')
                ON CONFLICT DO NOTHING
                """, [storm, fingerprint, startsAt, alertname, severity, rank])
            guard db.changesCount == 1 else { return false }  // a candidate of this storm already (it had its turn)
            let rowID = db.lastInsertedRowID
            if let weakest {
                try db.run("UPDATE storm_candidates SET state = 'displaced' WHERE rowid = ?", [holders[weakest].rowID])
                holders.remove(at: weakest)
            }
            holders.append(Holder(rowID: rowID, rank: rank, queued: true))
            return true
        }

        /// A resolved alert gives its place back: a started one stays `started` (it was diagnosed); a
        /// queued one is not diagnosed at all, or the storm would diagnose more than `top`.
        static func resolve(storm: StormID, fingerprint: String, startsAt: String, in db: Database) throws {
            try db.run("""
                UPDATE storm_candidates SET resolved = 1, state = CASE state WHEN 'queued' THEN 'displaced' ELSE state END
                WHERE storm_id = ? AND fingerprint = ? AND starts_at = ?
                """, [storm, fingerprint, startsAt])
        }

        /// A queued alert that is not to be diagnosed (its cooldown) gives its place back.
        static func release(storm: StormID, fingerprint: String, startsAt: String, in db: Database) throws {
            try db.run("""
                UPDATE storm_candidates SET state = 'displaced' WHERE storm_id = ? AND fingerprint = ? AND starts_at = ? AND state = 'queued'
                """, [storm, fingerprint, startsAt])
        }
    }
}
