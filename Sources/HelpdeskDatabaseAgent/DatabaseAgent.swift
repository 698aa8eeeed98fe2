import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import Logging

/// PostgreSQL tools over the databases of the inventory, through postgres-nio.
///
/// At most ``connectionsPerTarget`` tool calls hold a connection to one database at a time: a
/// database near its connection limit must not be pushed over it by the bot diagnosing it.
public struct DatabaseAgent: Agent {
    public static let connectionsPerTarget = 2

    public let name = DatabaseTools.agent
    private let servers: [String: Infrastructure.DatabaseServer]
    private let credentials: Infrastructure.PostgresCredentials
    private let limits: DatabaseTools.Limits
    private let logger: Logger
    private let bodies: [String: DatabaseTools.Body]
    private let permits: [String: AsyncSemaphore]

    public init(inventory: Infrastructure, statementTimeout: Duration, rowCap: Int, logger: Logger) {
        servers = Dictionary(inventory.dbServers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        credentials = inventory.postgresCredentials
        limits = .init(statementTimeout: statementTimeout, rowCap: rowCap)
        self.logger = logger
        bodies = Dictionary(uniqueKeysWithValues: DatabaseTools.all.map { ($0.0.name, $0.1) })
        permits = servers.mapValues { _ in AsyncSemaphore(permits: Self.connectionsPerTarget) }
    }

    public var tools: [ToolDescriptor] { DatabaseTools.all.map(\.0) }

    public var targets: [String] { servers.keys.sorted() }

    public func applies(to target: String) -> Bool { servers[target] != nil }

    public func run(_ call: ToolCall) async throws -> JSONValue {
        guard let descriptor = tools.first(where: { $0.name == call.tool }), let body = bodies[call.tool] else {
            throw ToolError("the database agent has no tool \(call.tool); it has: \(tools.map(\.name).joined(separator: ", "))")
        }
        if let problem = descriptor.validate(call.arguments) { throw ToolError(problem) }
        guard let server = servers[call.target] else {
            throw ToolError("\(call.target) is not a database in the inventory; known: \(targets.joined(separator: ", "))")
        }
        let target = try DatabaseTarget.resolve(server, credentials: credentials)
        let limits = limits
        let logger = logger
        return try await permits[call.target]!.withPermit {
            let session = try await PostgresSession.connect(target, logger: logger)
            do {
                let output = try await body(session, call, limits)
                await session.close()
                return output
            } catch {
                await session.close()
                throw ToolError(PostgresSession.describe(error))
            }
        }
    }
}
