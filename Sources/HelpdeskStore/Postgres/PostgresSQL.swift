import Logging
import PostgresNIO

extension PostgresConnection {
    /// Runs a statement and discards any rows.
    func run(_ query: PostgresQuery, _ logger: Logger) async throws {
        try await self.query(query, logger: logger).consume()
    }

    /// Every row, read into random-access rows (`row["column"].decode(Int64.self)`).
    func rows(_ query: PostgresQuery, _ logger: Logger) async throws -> [PostgresRandomAccessRow] {
        try await self.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    /// The first row, or `nil`.
    func row(_ query: PostgresQuery, _ logger: Logger) async throws -> PostgresRandomAccessRow? {
        try await rows(query, logger).first
    }

    /// A transaction-scoped advisory lock, released at COMMIT or ROLLBACK: serialises one concern
    /// (the audit chain, one channel's storm or outbox, migrations) across replicas.
    func lock(_ name: String, _ logger: Logger) async throws {
        try await run("SELECT pg_advisory_xact_lock(hashtextextended(\(name), 0))", logger)
    }

    /// Like ``lock(_:_:)`` without waiting: `false` when another transaction holds it.
    func tryLock(_ name: String, _ logger: Logger) async throws -> Bool {
        guard let row = try await row("SELECT pg_try_advisory_xact_lock(hashtextextended(\(name), 0))", logger) else { return false }
        return try row[0].decode(Bool.self)
    }
}

extension PostgresRowSequence {
    /// Reads to the end, so the connection is free for the next statement.
    func consume() async throws {
        for try await _ in self {}
    }
}
