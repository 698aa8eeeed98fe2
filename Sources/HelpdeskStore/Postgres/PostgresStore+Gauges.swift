import Foundation
import Logging
import PostgresNIO

// The counts `/metrics` samples every few seconds, the twins of SQLiteStore+Gauges.swift: one
// read each, outside a transaction, over the pending rows and the open storms only.

extension PostgresSlackOutbox {
    func pendingCount() async throws -> Int {
        let logger = store.logger
        return try await store.read { connection in
            let row = try await connection.row("SELECT COUNT(*) AS n FROM slack_outbox WHERE state = 'pending'", logger)
            return Int(try row?["n"].decode(Int64.self) ?? 0)
        }
    }
}

extension PostgresStorms {
    func openCount() async throws -> Int {
        let logger = store.logger
        return try await store.read { connection in
            let row = try await connection.row("SELECT COUNT(*) AS n FROM storms WHERE closed_at IS NULL", logger)
            return Int(try row?["n"].decode(Int64.self) ?? 0)
        }
    }
}
