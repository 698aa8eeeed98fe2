import Foundation
import GRDB
import HelpdeskCore

extension SQLiteAlertIndex {
    func list(_ query: AlertQuery) async throws -> [StoredAlert] {
        var conditions = ["1 = 1"]
        var arguments: StatementArguments = []
        if let since = query.since {
            conditions.append("a.received_at >= ?")
            arguments += [since.timeIntervalSince1970]
        }
        if query.firingOnly {
            conditions.append("""
                a.status = 'firing' AND NOT EXISTS (SELECT 1 FROM alerts r WHERE r.fingerprint = a.fingerprint
                AND r.starts_at = a.starts_at AND r.receiver = a.receiver AND r.status = 'resolved')
                """)
        }
        arguments += [max(1, min(query.limit, 10_000))]
        let sql = "SELECT a.* FROM alerts a WHERE \(conditions.joined(separator: " AND ")) ORDER BY a.received_at DESC LIMIT ?"
        let bound = arguments
        return try await store.database.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map(Self.alert)
        }
    }

    func latest(fingerprint: String) async throws -> StoredAlert? {
        try await store.database.read { db in
            try Row.fetchOne(db, sql: """
                SELECT * FROM alerts WHERE fingerprint = ? ORDER BY received_at DESC, starts_at DESC LIMIT 1
                """, arguments: [fingerprint]).map(Self.alert)
        }
    }

    static func alert(_ row: Row) -> StoredAlert {
        StoredAlert(fingerprint: row["fingerprint"], startsAt: row["starts_at"], status: row["status"], groupKey: row["group_key"],
                    receiver: row["receiver"], labels: StoredAlert.strings(row["labels"]), annotations: StoredAlert.strings(row["annotations"]),
                    endsAt: row["ends_at"], generatorURL: row["generator_url"],
                    receivedAt: Date(timeIntervalSince1970: row["received_at"]))
    }
}
