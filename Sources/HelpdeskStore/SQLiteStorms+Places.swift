import Foundation
import GRDB

extension SQLiteStorms {
    /// The places among a storm's diagnoses: the candidates holding one (queued or started, not
    /// resolved), at most `top`, read through the `storm_candidates_places` partial index. A queued
    /// one gives its place to a more severe alert; a started one keeps it until it resolves.
    struct Places {
        let storm: StormID
        let top: Int
        var holders: [StormRules.Holder]

        static func load(storm: StormID, top: Int, in db: Database) throws -> Places {
            let holders = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT rowid, rank, state FROM storm_candidates WHERE storm_id = ? AND state != 'displaced' AND resolved = 0
                """), arguments: [storm]).map { StormRules.Holder(id: $0["rowid"], rank: $0["rank"], queued: ($0["state"] as String) == "queued") }
            return Places(storm: storm, top: top, holders: holders)
        }

        /// Gives the alert a place when one is free, or takes the place of the weakest queued holder
        /// when the alert is more severe (``StormRules/place(rank:holders:top:)``); `false` when it gets none.
        mutating func take(fingerprint: String, startsAt: String, alertname: String, severity: String, rank: Int, in db: Database) throws -> Bool {
            var weakest: Int?
            switch StormRules.place(rank: rank, holders: holders, top: top) {
            case .free: break
            case .displacing(let index): weakest = index
            case .full: return false
            }
            try db.run("""
                INSERT INTO storm_candidates (storm_id, fingerprint, starts_at, alertname, severity, rank, state) VALUES (?, ?, ?, ?, ?, ?, 'queued')
                ON CONFLICT DO NOTHING
                """, [storm, fingerprint, startsAt, alertname, severity, rank])
            guard db.changesCount == 1 else { return false }  // a candidate of this storm already (it had its turn)
            let rowID = db.lastInsertedRowID
            if let weakest {
                try db.run("UPDATE storm_candidates SET state = 'displaced' WHERE rowid = ?", [holders[weakest].id])
                holders.remove(at: weakest)
            }
            holders.append(StormRules.Holder(id: rowID, rank: rank, queued: true))
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
