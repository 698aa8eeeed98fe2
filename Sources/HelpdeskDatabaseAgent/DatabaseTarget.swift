import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskPostgres

/// A database from the inventory, with its parsed connection string and resolved password.
public struct DatabaseTarget: Sendable {
    public var id: String
    public var connection: PostgresConnectionString
    public var password: String?
    public var tags: [String]

    public init(id: String, connection: PostgresConnectionString, password: String?, tags: [String] = []) {
        self.id = id
        self.connection = connection
        self.password = password
        self.tags = tags
    }

    /// Resolves an inventory entry. The password is the value of the entry's `password_env` variable
    /// when set (aiHelpDesk appends it to the connection string, so it wins over one written there);
    /// otherwise, as libpq takes it, from the connection string, else `PGPASSWORD`, else the password file.
    public static func resolve(_ server: Infrastructure.DatabaseServer, credentials: Infrastructure.PostgresCredentials) throws -> DatabaseTarget {
        let connection: PostgresConnectionString
        do {
            connection = try PostgresConnectionString(parsing: server.connectionString)
        } catch {
            throw ToolError("the connection string of \(server.id) is not valid: \(error.message)")
        }
        if let password = server.password {
            return DatabaseTarget(id: server.id, connection: connection, password: password.reveal(), tags: server.tags)
        }
        let endpoint: PostgresEndpoint
        do {
            endpoint = try PostgresEndpoint.resolve(connection, environmentPassword: credentials.password?.reveal(), passFile: credentials.passFile)
        } catch {
            throw ToolError("\(error)")
        }
        return DatabaseTarget(id: server.id, connection: connection, password: endpoint.password, tags: server.tags)
    }
}
