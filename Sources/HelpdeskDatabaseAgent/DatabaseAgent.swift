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
    private let bodies: [String: DatabaseTools.Run]
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

    /// The names of ``tools``, the same for every inventory (policy files are checked against them).
    public static var toolNames: [String] { DatabaseTools.all.map(\.0.name) }

    public var targets: [String] { servers.keys.sorted() }

    public func applies(to target: String) -> Bool { servers[target] != nil }

    public func run(_ call: ToolCall) async throws -> JSONValue {
        guard let run = bodies[call.tool] else { throw unknownTool(call.tool) }
        try validate(call)
        switch run {
        case .session(let body):
            return try await withSession(call.target) { session, limits in try await body(session, call, limits) }
        case .sessions(let body):
            // Each session the tool opens holds a permit only while it is open: a tool that waits between
            // two readings leaves both permits to the calls that fix what it is measuring.
            let (_, limits) = try connection(to: call.target)
            let target = call.target
            let agent = self
            let open: DatabaseTools.OpenSession = { read in
                try await agent.withSession(target) { session, _ in try await read(session) }
            }
            return try await body(open, call, limits)
        }
    }

    /// Session tools end or interrupt one session and change no rows themselves, but the session's
    /// open transaction is rolled back: how long it has been open with writes is read from the
    /// database now (`max_xact_age_secs`), at the request and again when an approved call runs,
    /// together with the session itself for approvers (who, what, whom it blocks).
    /// Reads change nothing.
    public func impact(of call: ToolCall) async throws -> ToolImpact {
        guard let descriptor = tools.first(where: { $0.name == call.tool }) else { throw unknownTool(call.tool) }
        if DatabaseTools.sessionTools.contains(call.tool) {
            let measured = await sessionImpact(call)
            return ToolImpact(rows: 0, pods: 0, sessions: 1, transactionAgeSeconds: measured.age, session: measured.session)
        }
        return descriptor.action == .read ? .none : ToolImpact(transactionAgeSeconds: 0)
    }

    /// The age of the written transaction of the session `call` ends and that session, both `nil`
    /// when they cannot be read (the database unreachable, the session gone); the age is `nil` too
    /// when the session is not visible to this user. A `max_xact_age_secs` limit then refuses,
    /// while the other counts stay known.
    private func sessionImpact(_ call: ToolCall) async -> (age: Int?, session: SessionEvidence?) {
        do {
            try validate(call)
            return try await withSession(call.target) { session, limits in
                try await DatabaseTools.sessionImpact(session, call, limits: limits)
            }
        } catch {
            logger.notice("cannot read the session a call would end",
                          metadata: ["tool": "\(call.tool)", "target": "\(call.target)", "error": "\(error)"])
            return (nil, nil)
        }
    }

    /// Session tools get the identity of the session their PID names now (`backend_start`, and
    /// user, application, client, state and statement for approvers); other calls are returned as they are.
    public func pin(_ call: ToolCall) async throws -> ToolCall {
        guard DatabaseTools.sessionTools.contains(call.tool) else { return call }
        try validate(call)
        return try await withSession(call.target) { session, limits in try await DatabaseTools.pin(session, call, limits: limits) }
    }

    private func validate(_ call: ToolCall) throws {
        guard let descriptor = tools.first(where: { $0.name == call.tool }) else { throw unknownTool(call.tool) }
        if let problem = descriptor.validate(call.arguments) { throw ToolError(problem) }
    }

    private func unknownTool(_ tool: String) -> ToolError {
        ToolError("the database agent has no tool \(tool); it has: \(tools.map(\.name).joined(separator: ", "))")
    }

    /// Where `target` is and the limits its calls run under (`disk_capacity` is per target).
    private func connection(to target: String) throws -> (DatabaseTarget, DatabaseTools.Limits) {
        guard let server = servers[target] else {
            throw ToolError("\(target) is not a database in the inventory; known: \(targets.joined(separator: ", "))")
        }
        var limits = self.limits
        limits.diskCapacityBytes = server.diskCapacityBytes
        return (try DatabaseTarget.resolve(server, credentials: credentials), limits)
    }

    /// Runs `body` on a fresh connection to `target`, within the target's connection permits.
    private func withSession<Value: Sendable>(
        _ target: String, _ body: @escaping @Sendable (PostgresSession, DatabaseTools.Limits) async throws -> Value
    ) async throws -> Value {
        let (resolved, limits) = try connection(to: target)
        let logger = logger
        return try await permits[target]!.withPermit {
            let session = try await PostgresSession.connect(resolved, logger: logger)
            do {
                let output = try await body(session, limits)
                await session.close()
                return output
            } catch {
                await session.close()
                throw ToolError(PostgresSession.describe(error))
            }
        }
    }
}
