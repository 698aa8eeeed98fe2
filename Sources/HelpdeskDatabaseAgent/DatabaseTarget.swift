import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore

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

    /// Resolves an inventory entry. The password comes, as libpq takes it, from the connection
    /// string, else `PGPASSWORD`, else the password file.
    public static func resolve(_ server: Infrastructure.DatabaseServer, credentials: Infrastructure.PostgresCredentials) throws -> DatabaseTarget {
        let connection: PostgresConnectionString
        do {
            connection = try PostgresConnectionString(parsing: server.connectionString)
        } catch {
            throw ToolError("the connection string of \(server.id) is not valid: \(error.message)")
        }
        var password = connection.password ?? credentials.password?.reveal()
        if password == nil, let path = credentials.passFile {
            do {
                password = try PGPassFile(path: path)?.password(
                    host: connection.host, port: connection.port,
                    database: connection.database ?? connection.user ?? "", user: connection.user ?? "")
            } catch {
                throw ToolError("\(error)")
            }
        }
        return DatabaseTarget(id: server.id, connection: connection, password: password, tags: server.tags)
    }
}
