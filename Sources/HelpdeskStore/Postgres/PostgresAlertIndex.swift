import Foundation
import Logging
import PostgresNIO

/// Reads over received alerts, the twin of ``SQLiteAlertIndex``. Alert text (`starts_at`, receivers)
/// is compared and sorted byte-wise with `COLLATE "C"`, as SQLite does, whatever the database's collation.
struct PostgresAlertIndex: AlertIndex {
    let store: PostgresStore

    func firingCount(receiver: String, since: Date) async throws -> Int {
        let logger = store.logger
        return try await store.read { connection -> Int in
            try await connection.row("""
                SELECT COUNT(*) AS n FROM alerts
                WHERE receiver = \(receiver) AND status = 'firing' AND received_at >= \(since.timeIntervalSince1970)
                """, logger)?["n"].decode(Int.self) ?? 0
        }
    }

    private struct Firing: Sendable {
        var alertname: String
        var severity: String
        var fingerprint: String
    }

    func recentFiring(receiver: String, since: Date, limit: Int) async throws -> [(alertname: String, severity: String, fingerprint: String)] {
        let logger = store.logger
        let found = try await store.read { connection -> [Firing] in
            // SQLite reads a negative LIMIT as none; LIMIT NULL is PostgreSQL's none.
            try await connection.rows("""
                SELECT labels::json ->> 'alertname' AS alertname, labels::json ->> 'severity' AS severity, fingerprint
                FROM alerts WHERE receiver = \(receiver) AND status = 'firing' AND received_at >= \(since.timeIntervalSince1970)
                ORDER BY received_at DESC LIMIT \(limit < 0 ? nil : limit)
                """, logger).map {
                try Firing(alertname: $0["alertname"].decode(String?.self) ?? "alert", severity: $0["severity"].decode(String?.self) ?? "unknown",
                           fingerprint: $0["fingerprint"].decode(String.self))
            }
        }
        return found.map { ($0.alertname, $0.severity, $0.fingerprint) }
    }

    func previousEpisode(fingerprint: String, before startsAt: String) async throws -> Date? {
        let logger = store.logger
        return try await store.read { connection -> Date? in
            try await connection.row("""
                SELECT MAX(received_at) AS latest FROM alerts
                WHERE fingerprint = \(fingerprint) AND status = 'firing' AND starts_at COLLATE "C" < \(startsAt)
                """, logger)?["latest"].decode(Double?.self).map(Date.init(timeIntervalSince1970:))
        }
    }

    func list(_ query: AlertQuery) async throws -> [StoredAlert] {
        // Conditions are constant SQL; only the values are bound.
        var sql = PostgresQuery.StringInterpolation(literalCapacity: 512, interpolationCount: 2)
        sql.appendLiteral("SELECT a.* FROM alerts a WHERE TRUE")
        if let since = query.since {
            sql.appendLiteral(" AND a.received_at >= ")
            sql.appendInterpolation(since.timeIntervalSince1970)
        }
        if query.firingOnly {
            sql.appendLiteral("""
                 AND a.status = 'firing' AND NOT EXISTS (SELECT 1 FROM alerts r WHERE r.fingerprint = a.fingerprint
                AND r.starts_at = a.starts_at AND r.receiver = a.receiver AND r.status = 'resolved')
                """)
        }
        sql.appendLiteral(" ORDER BY a.received_at DESC LIMIT ")
        sql.appendInterpolation(max(1, min(query.limit, 10_000)))
        let statement = PostgresQuery(stringInterpolation: sql)
        let logger = store.logger
        return try await store.read { connection -> [StoredAlert] in
            try await connection.rows(statement, logger).map(Self.alert)
        }
    }

    func latest(fingerprint: String) async throws -> StoredAlert? {
        let logger = store.logger
        return try await store.read { connection -> StoredAlert? in
            try await connection.row("""
                SELECT * FROM alerts WHERE fingerprint = \(fingerprint) ORDER BY received_at DESC, starts_at COLLATE "C" DESC LIMIT 1
                """, logger).map(Self.alert)
        }
    }

    /// Finding the one alert an action is about, when its fingerprint reached the bot through several receivers.
    func instance(fingerprint: String, receiver: String, startsAt: String) async throws -> StoredAlert? {
        let logger = store.logger
        return try await store.read { connection -> StoredAlert? in
            try await connection.row("""
                SELECT * FROM alerts WHERE fingerprint = \(fingerprint) AND receiver = \(receiver) AND starts_at = \(startsAt)
                ORDER BY received_at DESC, status DESC LIMIT 1
                """, logger).map(Self.alert)
        }
    }

    func latestPerReceiver(fingerprint: String) async throws -> [StoredAlert] {
        // Each receiver's newest row (ties: the later episode, then "resolved" over "firing";
        // (fingerprint, starts_at, receiver, status) is unique), in one sort of the fingerprint's rows.
        let logger = store.logger
        return try await store.read { connection -> [StoredAlert] in
            try await connection.rows("""
                SELECT * FROM (
                    SELECT a.*, ROW_NUMBER() OVER (PARTITION BY receiver
                        ORDER BY received_at DESC, starts_at COLLATE "C" DESC, status DESC) AS newest
                    FROM alerts a WHERE fingerprint = \(fingerprint)) ranked
                WHERE newest = 1 ORDER BY received_at DESC, receiver COLLATE "C" LIMIT 20
                """, logger).map(Self.alert)
        }
    }

    static func alert(_ row: PostgresRandomAccessRow) throws -> StoredAlert {
        try StoredAlert(fingerprint: row["fingerprint"].decode(String.self), startsAt: row["starts_at"].decode(String.self),
                        status: row["status"].decode(String.self), groupKey: row["group_key"].decode(String.self),
                        receiver: row["receiver"].decode(String.self),
                        labels: StoredAlert.strings(row["labels"].decode(String?.self)),
                        annotations: StoredAlert.strings(row["annotations"].decode(String?.self)),
                        endsAt: row["ends_at"].decode(String?.self), generatorURL: row["generator_url"].decode(String?.self),
                        receivedAt: Date(timeIntervalSince1970: row["received_at"].decode(Double.self)))
    }
}
