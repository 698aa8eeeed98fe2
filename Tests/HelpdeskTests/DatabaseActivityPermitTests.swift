import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskDatabaseAgent
import HelpdeskPostgres
import HelpdeskTestSupport
import Logging
import Testing

/// `database_activity` against real PostgreSQL (the shared throwaway cluster): its wait between the two
/// readings holds none of the target's connection permits.
@Suite struct DatabaseActivityPermitTests {
    static func agent(for endpoint: PostgresEndpoint) -> DatabaseAgent {
        let database = endpoint.connection.database ?? "postgres"
        var inventory = Infrastructure()
        let url = "postgres://postgres@127.0.0.1:\(endpoint.connection.port)/\(database)?sslmode=disable"
        inventory.dbServers = [.init(id: "db", connectionString: url)]
        return DatabaseAgent(inventory: inventory, statementTimeout: .seconds(5), rowCap: 10,
                             logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// As many activity reads as the target has permits, each waiting 7 s (the cap: server_info, a second
    /// later, has 6 s on a loaded run to get its permit and answer first): when they held their permits
    /// through the wait, every other call on the target (the `terminate_backend` that ends a lock
    /// pile-up) queued behind them.
    @Test func anotherCallOnTheTargetRunsWhileActivityReadsWait() async throws {
        let agent = Self.agent(for: try await TemporaryPostgres.newDatabase())
        let finished = try await withThrowingTaskGroup(of: (String, JSONValue, ContinuousClock.Instant).self) { group in
            for _ in 0..<DatabaseAgent.connectionsPerTarget {
                group.addTask {
                    let output = try await agent.run(ToolCall(tool: "database_activity", target: "db", arguments: ["seconds": .number(7)]))
                    return ("database_activity", output, ContinuousClock.now)
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(1))
                let output = try await agent.run(ToolCall(tool: "server_info", target: "db"))
                return ("server_info", output, ContinuousClock.now)
            }
            var results: [(String, JSONValue, ContinuousClock.Instant)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.2 < $1.2 }
        }
        let order = finished.map(\.0)
        let expected = ["server_info", "database_activity", "database_activity"]
        #expect(order == expected, "server_info got a permit while both activity reads waited")
        #expect(finished.first?.1["role"] == .string("primary"))
        for (_, activity, _) in finished.dropFirst() {
            #expect((activity["window_seconds"]?.doubleValue ?? 0) >= 7, "the measured window, at least the wait")
            #expect(activity["contended_tables"] == .array([]))
            // A new database has never had its statistics reset: no rate since a reset.
            #expect(activity["stats_reset"] == .null)
            #expect(activity["deadlocks_per_hour"] == .null)
        }
    }

    @Test func aWindowOverSevenSecondsIsCutToSeven() async throws {
        let agent = Self.agent(for: try await TemporaryPostgres.newDatabase())
        let activity = try await agent.run(ToolCall(tool: "database_activity", target: "db", arguments: ["seconds": .number(60)]))
        let window = activity["window_seconds"]?.doubleValue ?? 0
        #expect(window >= 7 && window < 60, "cut to seven seconds, not a minute")
    }
}
