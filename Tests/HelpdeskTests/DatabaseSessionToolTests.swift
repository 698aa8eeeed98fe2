import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskDatabaseAgent
import Logging
import Testing

/// Impact and pinning of the session tools, without a server; the pinned write itself runs
/// against real PostgreSQL in Tests/integration/test_pinned_sessions.py.
@Suite struct DatabaseSessionToolTests {
    let agent: DatabaseAgent = {
        var inventory = Infrastructure()
        // Nothing listens on port 1: a call that connects fails.
        inventory.dbServers = [.init(id: "prod-db", connectionString: "host=127.0.0.1 port=1 user=app connect_timeout=1")]
        return DatabaseAgent(inventory: inventory, statementTimeout: .seconds(1), rowCap: 10, logger: Logger(label: "test"))
    }()

    /// The transaction age is read from the database; unreachable here, so it is unknown (a
    /// `max_xact_age_secs` limit then refuses) while the counts that need no reading stay known.
    @Test(arguments: ["terminate_backend", "cancel_query"])
    func sessionToolsAffectOneSessionAndNoRowsAndCannotSayATransactionAgeUnread(tool: String) async throws {
        let impact = try await agent.impact(of: ToolCall(tool: tool, target: "prod-db", arguments: ["pid": .number(4242)]))
        #expect(impact == ToolImpact(rows: 0, pods: 0, sessions: 1, transactionAgeSeconds: nil))
    }

    @Test func readsAffectNothing() async throws {
        #expect(try await agent.impact(of: ToolCall(tool: "blocking_locks", target: "prod-db")) == .none)
        #expect(ToolImpact.none.transactionAgeSeconds == 0, "a read ends no session")
        await #expect(throws: ToolError.self) { try await agent.impact(of: ToolCall(tool: "drop_table", target: "prod-db")) }
    }

    @Test func pinnedArgumentsAreDeclaredSoValidationAcceptsThem() throws {
        let pinned: [String: JSONValue] = [
            "pid": .number(4242), "backend_start": .string("2026-11-25T11:34:23.123456+00:00"), "session_user": .string("app"),
            "session_application": .string("billing-worker"), "session_client": .string("10.0.0.7"),
            "session_state": .string("idle in transaction"), "session_query_start": .string("2026-11-25T11:35:00+00:00"),
            "session_query": .string("UPDATE accounts SET balance = balance - 1"),
        ]
        for tool in ["terminate_backend", "cancel_query"] {
            let descriptor = try #require(agent.tools.first { $0.name == tool })
            #expect(descriptor.validate(pinned) == nil)
            #expect(descriptor.validate(["backend_start": .string("x")]) != nil, "the PID stays required")
        }
    }

    @Test func readsAreNotPinnedAndOpenNoConnection() async throws {
        let call = ToolCall(tool: "blocking_locks", target: "prod-db")
        #expect(try await agent.pin(call) == call)
    }

    @Test func pinningReadsTheSessionAndFailsWhenItCannot() async {
        await #expect(throws: ToolError.self) {
            try await agent.pin(ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(4242)]))
        }
        await #expect(throws: ToolError.self) {
            try await agent.pin(ToolCall(tool: "terminate_backend", target: "prod-db"))
        }
    }
}
