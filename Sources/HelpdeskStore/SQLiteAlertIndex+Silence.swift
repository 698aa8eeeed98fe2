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
        // A row is its receiver's newest unless another of the same receiver was received later (ties:
        // the later episode, then "resolved" over "firing"; (fingerprint, starts_at, status) is unique).
        try await store.database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT a.* FROM alerts a WHERE a.fingerprint = ? AND NOT EXISTS (
                    SELECT 1 FROM alerts b WHERE b.fingerprint = a.fingerprint AND b.receiver = a.receiver AND (
                        b.received_at > a.received_at
                        OR (b.received_at = a.received_at AND b.starts_at > a.starts_at)
                        OR (b.received_at = a.received_at AND b.starts_at = a.starts_at AND b.status > a.status)))
                ORDER BY a.received_at DESC, a.receiver LIMIT 20
                """, arguments: [fingerprint]).map(Self.alert)
        }
    }
}
