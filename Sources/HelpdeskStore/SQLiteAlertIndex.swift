import Foundation
import GRDB

struct SQLiteAlertIndex: AlertIndex {
    let store: SQLiteStore

    func firingCount(receiver: String, since: Date) async throws -> Int {
        try await store.database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM alerts WHERE receiver = ? AND status = 'firing' AND received_at >= ?",
                             arguments: [receiver, since.timeIntervalSince1970]) ?? 0
        }
    }

    func recentFiring(receiver: String, since: Date, limit: Int) async throws -> [(alertname: String, severity: String, fingerprint: String)] {
        try await store.database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT json_extract(labels, '$.alertname') AS alertname, json_extract(labels, '$.severity') AS severity, fingerprint
                FROM alerts WHERE receiver = ? AND status = 'firing' AND received_at >= ? ORDER BY received_at DESC LIMIT ?
                """, arguments: [receiver, since.timeIntervalSince1970, limit]).map {
                (($0["alertname"] as String?) ?? "alert", ($0["severity"] as String?) ?? "unknown", $0["fingerprint"] as String)
            }
        }
    }

    func previousEpisode(fingerprint: String, before startsAt: String) async throws -> Date? {
        try await store.database.read { db in
            try Double.fetchOne(db, sql: """
                SELECT MAX(received_at) FROM alerts WHERE fingerprint = ? AND status = 'firing' AND starts_at < ?
                """, arguments: [fingerprint, startsAt]).map(Date.init(timeIntervalSince1970:))
        }
    }
}
