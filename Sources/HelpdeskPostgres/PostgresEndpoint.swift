import Foundation
import NIOCore
import NIOSSL
import PostgresNIO

/// Where and how to reach one PostgreSQL server, as a libpq user would write it: the target
/// databases of the database agent and the store of several replicas connect through this one place.
public struct PostgresEndpoint: Sendable {
    public var connection: PostgresConnectionString
    public var password: String?

    public init(connection: PostgresConnectionString, password: String?) {
        self.connection = connection
        self.password = password
    }

    /// The password as libpq finds it: in the string, else `PGPASSWORD`, else the password file.
    public static func resolve(_ connection: PostgresConnectionString, environmentPassword: String?, passFile: String?) throws -> PostgresEndpoint {
        var password = connection.password ?? environmentPassword
        if password == nil, let passFile {
            password = try PGPassFile(path: passFile)?.password(
                host: connection.host, port: connection.port,
                database: connection.database ?? connection.user ?? "", user: connection.user ?? "")
        }
        return PostgresEndpoint(connection: connection, password: password)
    }

    /// `host:port/database`, never the password: for messages and logs.
    public var displayName: String {
        let database = connection.database ?? connection.user ?? ""
        return connection.unixSocketPath.map { "\($0)/\(database)" } ?? "\(connection.host):\(connection.port)/\(database)"
    }

    /// A pool's configuration. TLS follows libpq's `sslmode`, except that a root certificate is
    /// never ignored: with `sslrootcert`, `prefer` and `require` verify the chain (as libpq does for
    /// `require`), so naming a CA never silently turns certificate checks off.
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        let spec = connection
        guard let user = spec.user, !user.isEmpty else { throw EndpointError("the connection string names no user") }
        var configuration: PostgresClient.Configuration
        if let socket = spec.unixSocketPath {
            configuration = .init(unixSocketPath: socket, username: user, password: password, database: spec.database)
        } else {
            configuration = .init(host: spec.host, port: spec.port, username: user, password: password, database: spec.database,
                                  tls: try clientTLS())
        }
        configuration.options.connectTimeout = .nanoseconds(Int64(spec.connectTimeout.components.seconds) * 1_000_000_000)
        configuration.options.additionalStartupParameters = [("application_name", spec.applicationName)]
        return configuration
    }

    /// A single connection's configuration (the database agent's tool calls).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let spec = connection
        guard let user = spec.user, !user.isEmpty else { throw EndpointError("the connection string names no user") }
        var configuration: PostgresConnection.Configuration
        if let socket = spec.unixSocketPath {
            configuration = .init(unixSocketPath: socket, username: user, password: password, database: spec.database)
        } else {
            configuration = .init(host: spec.host, port: spec.port, username: user, password: password, database: spec.database,
                                  tls: try connectionTLS())
        }
        configuration.options.connectTimeout = .nanoseconds(Int64(spec.connectTimeout.components.seconds) * 1_000_000_000)
        configuration.options.additionalStartupParameters = [("application_name", spec.applicationName)]
        return configuration
    }

    private enum Mode { case disable, prefer(TLSConfiguration), require(TLSConfiguration) }

    private func tlsMode() -> Mode {
        let spec = connection
        var tls = TLSConfiguration.makeClientConfiguration()
        let verifies = spec.sslRootCert != nil
        switch spec.sslMode {
        case .disable: return .disable
        case .allow, .prefer, .require: tls.certificateVerification = verifies ? .noHostnameVerification : .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let rootCert = spec.sslRootCert { tls.trustRoots = .file(rootCert) }
        // With a CA named, a server without TLS is refused rather than used in plain text.
        let optional = (spec.sslMode == .allow || spec.sslMode == .prefer) && !verifies
        return optional ? .prefer(tls) : .require(tls)
    }

    /// libpq refuses `verify-ca` without a root certificate; here it would trust any publicly trusted
    /// certificate for any name, so it is refused too.
    private func checkVerification() throws {
        if connection.sslMode == .verifyCA, connection.sslRootCert == nil {
            throw EndpointError("sslmode=verify-ca needs sslrootcert (the CA that signed the server's certificate); use verify-full to check the host name against the system's trusted CAs")
        }
    }

    /// Whether a listener on the path could read or alter the traffic: TLS without a checked
    /// certificate (`prefer`, `require` without `sslrootcert`) or none, to a host that is not loopback.
    public var isUnverified: Bool {
        guard connection.unixSocketPath == nil, !["localhost", "127.0.0.1", "::1"].contains(connection.host) else { return false }
        switch connection.sslMode {
        case .verifyFull, .verifyCA: return false
        case .disable, .allow, .prefer, .require: return connection.sslRootCert == nil
        }
    }

    private func clientTLS() throws -> PostgresClient.Configuration.TLS {
        try checkVerification()
        switch tlsMode() {
        case .disable: return .disable
        case .prefer(let tls): return .prefer(tls)
        case .require(let tls): return .require(tls)
        }
    }

    private func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        try checkVerification()
        do {
            switch tlsMode() {
            case .disable: return .disable
            case .prefer(let tls): return .prefer(try NIOSSLContext(configuration: tls))
            case .require(let tls): return .require(try NIOSSLContext(configuration: tls))
            }
        } catch {
            throw EndpointError("cannot set up TLS (sslmode=\(connection.sslMode.rawValue)): \(error)")
        }
    }

    public struct EndpointError: Error, Sendable, CustomStringConvertible {
        public var message: String
        init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// The server's message ("password authentication failed for user …") or the connection
    /// problem, never postgres-nio's generic description, and never the password.
    public static func describe(_ error: any Error) -> String {
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
