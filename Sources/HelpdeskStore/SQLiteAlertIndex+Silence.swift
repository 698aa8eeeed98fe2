import Foundation
import GRDB

/// Finding the one alert an action is about, when its fingerprint reached the bot through several receivers.
extension SQLiteAlertIndex {
    func instance(fingerprint: String, receiver: String, startsAt: String) async throws -> StoredAlert? {
        try await store.database.read { db in
            try Row.fetchOne(db, sql: """
                SELECT * FROM alerts WHERE fingerprint = ? AND receiver = ? AND starts_at = ?
                ORDER BY received_at DESC, status DESC LIMIT 1
                """, arguments: [fingerprint, receiver, startsAt]).map(Self.alert)
        }
    }

    func latestPerReceiver(fingerprint: String) async throws -> [StoredAlert] {
        // Each receiver's newest row (ties: the later episode, then "resolved" over "firing";
        // (fingerprint, starts_at, status) is unique). One sort of the fingerprint's rows: a flapping
        // alert keeps thousands, and comparing each with each was quadratic.
        try await store.database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM (
                    SELECT a.*, ROW_NUMBER() OVER (PARTITION BY receiver ORDER BY received_at DESC, starts_at DESC, status DESC) AS newest
                    FROM alerts a WHERE fingerprint = ?)
                WHERE newest = 1 ORDER BY received_at DESC, receiver LIMIT 20
                """, arguments: [fingerprint]).map(Self.alert)
        }
    }
}
