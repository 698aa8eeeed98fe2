import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskPostgres
import Logging
import NIOCore
import PostgresNIO

/// One connection to a target database, used by one tool call and then closed.
///
/// Reads run inside `BEGIN READ ONLY` with a statement timeout, and every row comes back as JSON
/// built by PostgreSQL itself (`row_to_json`), so timestamps, intervals and numerics keep their
/// server-side rendering and no per-type decoding is needed here.
struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger
    /// The inventory name, for messages.
    let targetID: String
    let database: String

    static func connect(_ target: DatabaseTarget, logger: Logger) async throws -> PostgresSession {
        let spec = target.connection
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try PostgresEndpoint(connection: spec, password: target.password).connectionConfiguration()
        } catch {
            throw ToolError("\(error) (\(target.id))")
        }
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            return PostgresSession(connection: connection, logger: logger, targetID: target.id,
                                   database: spec.database ?? spec.user ?? "")
        } catch {
            throw ToolError("cannot connect to \(target.id) (\(spec.host):\(spec.port)): \(describe(error))")
        }
    }

    /// Runs `sql` (a SELECT with `$1…` placeholders) read-only and returns at most `rowCap` rows as JSON objects.
    func readRows(_ sql: String, _ binds: [any PostgresEncodable] = [], rowCap: Int, statementTimeout: Duration) async throws -> (rows: [JSONValue], truncated: Bool) {
        try await run("BEGIN TRANSACTION READ ONLY")
        do {
            try await limit(statementTimeout, local: true)
            var bindings = PostgresBindings()
            for value in binds { try bindings.append(value) }
            let wrapped = "SELECT row_to_json(result)::text FROM (\(sql)) AS result LIMIT \(rowCap + 1)"
            var rows: [JSONValue] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: wrapped, binds: bindings), logger: logger) {
                let text = try row.makeRandomAccess()[0].decode(String.self)
                rows.append(try JSONValue(parsing: text))
            }
            try await run("COMMIT")
            let truncated = rows.count > rowCap
            return (Array(rows.prefix(rowCap)), truncated)
        } catch {
            try? await run("ROLLBACK")
            throw ToolError(Self.describe(error))
        }
    }

    /// One value from a read-only query returning a single row, such as a setting.
    func readRow(_ sql: String, _ binds: [any PostgresEncodable] = [], statementTimeout: Duration) async throws -> JSONValue {
        try await readRows(sql, binds, rowCap: 1, statementTimeout: statementTimeout).rows.first ?? .null
    }

    /// Runs a statement that changes state (cancel, terminate), outside a read-only transaction.
    /// Returns its first row, or `.null` when it returned none (a `WHERE` that no longer matched).
    func writeRow(_ sql: String, _ binds: [any PostgresEncodable], statementTimeout: Duration) async throws -> JSONValue {
        do {
            try await limit(statementTimeout, local: false)
            var bindings = PostgresBindings()
            for value in binds { try bindings.append(value) }
            let wrapped = "SELECT row_to_json(result)::text FROM (\(sql)) AS result"
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: wrapped, binds: bindings), logger: logger) {
                return try JSONValue(parsing: try row.makeRandomAccess()[0].decode(String.self))
            }
            return .null
        } catch {
            throw ToolError(Self.describe(error))
        }
    }

    func close() async {
        try? await connection.close()
    }

    /// The statement timeout, and no JIT: the catalog reads are estimated costly enough to be compiled
    /// (blocking_locks: 57 ms of LLVM in a fresh backend for a 6 ms query, seconds on a loaded server),
    /// on a database already in trouble. A server without `jit` (before PostgreSQL 11) is left as it is.
    /// The row is read: an error of the statement comes with it, not with the next query.
    private func limit(_ statementTimeout: Duration, local: Bool) async throws {
        let milliseconds = String(max(1, statementTimeout.nanoseconds / 1_000_000))
        let rows = try await connection.query("""
            SELECT set_config('statement_timeout', \(milliseconds), \(local)),
                   CASE WHEN current_setting('jit', true) IS NOT NULL THEN set_config('jit', 'off', \(local)) END
            """, logger: logger)
        for try await _ in rows {}
    }

    private func run(_ sql: String) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }

    /// The server's message ("permission denied for …", "canceling statement due to statement
    /// timeout") or the connection problem, never postgres-nio's generic description.
    static func describe(_ error: any Error) -> String {
        if let error = error as? ToolError { return error.message }
        return PostgresEndpoint.describe(error)
    }
}
