import Foundation
import HelpdeskAgents
import HelpdeskCore
import Logging
import NIOCore
import NIOSSL
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
        guard let user = spec.user else {
            throw ToolError("the connection string of \(target.id) names no user")
        }
        var configuration: PostgresConnection.Configuration
        if let socket = spec.unixSocketPath {
            configuration = .init(unixSocketPath: socket, username: user, password: target.password, database: spec.database)
        } else {
            configuration = .init(host: spec.host, port: spec.port, username: user, password: target.password,
                                  database: spec.database, tls: try tls(for: spec))
        }
        configuration.options.connectTimeout = .nanoseconds(spec.connectTimeout.nanoseconds)
        configuration.options.additionalStartupParameters = [("application_name", spec.applicationName)]
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            return PostgresSession(connection: connection, logger: logger, targetID: target.id,
                                   database: spec.database ?? user)
        } catch {
            throw ToolError("cannot connect to \(target.id) (\(spec.host):\(spec.port)): \(describe(error))")
        }
    }

    private static func tls(for spec: PostgresConnectionString) throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch spec.sslMode {
        case .disable: return .disable
        case .allow, .prefer, .require: tls.certificateVerification = .none  // libpq: encrypt, do not verify
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let rootCert = spec.sslRootCert {
            tls.trustRoots = .file(rootCert)
        }
        do {
            let context = try NIOSSLContext(configuration: tls)
            return spec.sslMode == .allow || spec.sslMode == .prefer ? .prefer(context) : .require(context)
        } catch {
            throw ToolError("cannot set up TLS (sslmode=\(spec.sslMode.rawValue)): \(error)")
        }
    }

    /// Runs `sql` (a SELECT with `$1…` placeholders) read-only and returns at most `rowCap` rows as JSON objects.
    func readRows(_ sql: String, _ binds: [any PostgresEncodable] = [], rowCap: Int, statementTimeout: Duration) async throws -> (rows: [JSONValue], truncated: Bool) {
        try await run("BEGIN TRANSACTION READ ONLY")
        do {
            try await run("SET LOCAL statement_timeout = \(max(1, statementTimeout.nanoseconds / 1_000_000))")
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
            try await run("SET statement_timeout = \(max(1, statementTimeout.nanoseconds / 1_000_000))")
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

    private func run(_ sql: String) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }

    /// The server's message ("permission denied for …", "canceling statement due to statement
    /// timeout") or the connection problem, never postgres-nio's generic description.
    static func describe(_ error: any Error) -> String {
        if let error = error as? ToolError { return error.message }
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return message + state
        }
        switch error.code {
        case .authMechanismRequiresPassword:
            return "the server asks for a password and none was found (set PGPASSWORD, add the server to ~/.pgpass, or name a password file)"
        case .unsupportedAuthMechanism: return "the server asks for an authentication method this client does not support"
        case .sslUnsupported: return "the server does not support TLS, which the connection string's sslmode requires"
        default: break
        }
        if let underlying = error.underlying {
            if let io = underlying as? IOError { return String(cString: strerror(io.errnoCode)) }
            return "\(underlying)"
        }
        return "\(error.code)"
    }
}
