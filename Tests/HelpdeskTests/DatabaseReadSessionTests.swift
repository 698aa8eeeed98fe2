import Foundation
import HelpdeskAgents
import HelpdeskCore
@testable import HelpdeskDatabaseAgent
import HelpdeskPostgres
import HelpdeskTestSupport
import Logging
import Testing

/// The settings a tool's read runs under, against real PostgreSQL (the shared throwaway cluster).
@Suite struct DatabaseReadSessionTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func target(_ endpoint: PostgresEndpoint) -> DatabaseTarget {
        DatabaseTarget(id: "db", connection: endpoint.connection, password: nil)
    }

    /// A database may enable JIT and set its own timeout: a read runs with its limit and compiles nothing
    /// (blocking_locks' plan costs more than `jit_above_cost`, and LLVM took longer than its 5 s limit on CI).
    @Test func aReadRunsWithItsTimeoutAndWithoutJIT() async throws {
        let endpoint = try await TemporaryPostgres.newDatabase()
        let database = try #require(endpoint.connection.database)
        try await TemporaryPostgres.execute("ALTER DATABASE \(database) SET jit = on; ALTER DATABASE \(database) SET statement_timeout = '42s'", in: endpoint)
        let session = try await PostgresSession.connect(Self.target(endpoint), logger: Self.quiet)
        let row = try await session.readRow("SELECT current_setting('jit') AS jit, current_setting('statement_timeout') AS timeout",
                                            statementTimeout: .seconds(3))
        #expect(row["jit"] == .string("off") && row["timeout"] == .string("3s"))
        let written = try await session.writeRow("SELECT current_setting('jit') AS jit, current_setting('statement_timeout') AS timeout",
                                                 [], statementTimeout: .seconds(2))
        #expect(written["jit"] == .string("off") && written["timeout"] == .string("2s"))
        await session.close()
    }

    /// A statement timeout the server refuses fails the read with the server's own message, not with
    /// "current transaction is aborted" from the next statement.
    @Test func aRefusedLimitFailsWithItsOwnError() async throws {
        let endpoint = try await TemporaryPostgres.newDatabase()
        let session = try await PostgresSession.connect(Self.target(endpoint), logger: Self.quiet)
        let error = await #expect(throws: ToolError.self) {
            // Over INT_MAX milliseconds: out of statement_timeout's range.
            _ = try await session.readRow("SELECT 1 AS one", statementTimeout: .seconds(3_000_000))
        }
        #expect(error?.message.contains("statement_timeout") == true, "\(String(describing: error))")
        await session.close()
    }

    /// server_info reports the timeout the database gives its sessions, not the 5 s the read itself runs under.
    @Test func serverInfoShowsTheDatabasesTimeoutNotTheReadsOwn() async throws {
        let endpoint = try await TemporaryPostgres.newDatabase()
        let database = try #require(endpoint.connection.database)
        let agent = DatabaseActivityPermitTests.agent(for: endpoint)
        let unset = try await agent.run(ToolCall(tool: "server_info", target: "db"))
        #expect(unset["settings"]?["statement_timeout"] == .string("0"))
        #expect(unset["settings"]?["lock_timeout"] == .string("0"), "the other settings as current_setting renders them")
        for (value, shown) in [("42s", "42s"), ("90min", "90min"), ("2h", "2h"), ("1500ms", "1500ms")] {
            try await TemporaryPostgres.execute("ALTER DATABASE \(database) SET statement_timeout = '\(value)'", in: endpoint)
            let set = try await agent.run(ToolCall(tool: "server_info", target: "db"))
            #expect(set["settings"]?["statement_timeout"] == .string(shown), "as current_setting would write \(value)")
        }
    }
}
