import Foundation
import HelpdeskAgents
import HelpdeskCore
@testable import HelpdeskDatabaseAgent
import Testing

/// What the database reads compute from PostgreSQL's rows, without a server; the SQL itself runs against
/// real PostgreSQL in Tests/integration/test_database_tools.py.
@Suite struct DatabaseToolOutputTests {
    static func reading(deadlocks: Int, commits: Int, read: Int, hit: Int, tables: String, contended: String = "[]") throws -> JSONValue {
        try JSONValue(parsing: """
            {"database": "shop", "deadlocks": \(deadlocks), "xact_commit": \(commits), "xact_rollback": 2, "blks_read": \(read),
             "blks_hit": \(hit), "temp_bytes": 0, "tables": \(tables), "contended_tables": \(contended)}
            """)
    }

    @Test func activityIsWhatChangedInTheWindow() throws {
        let first = try Self.reading(deadlocks: 40, commits: 1000, read: 500, hit: 9500, tables: """
            {"1": ["orders", 100, 10, 90], "2": ["sales.items", 50, 0, 10], "3": ["quiet", 7, 7, 7], "4": ["dropped", 1, 1, 1]}
            """)
        let second = try Self.reading(deadlocks: 43, commits: 1300, read: 2500, hit: 10500, tables: """
            {"1": ["orders", 160, 2010, 190], "2": ["sales.items", 110, 0, 12], "3": ["quiet", 7, 7, 7],
             "5": ["created", 5, 3, 0], "6": ["tied", 60, 0, 0]}
            """, contended: #"["orders"]"#)
        let activity = DatabaseTools.activity(first: first, second: second, seconds: 3)
        #expect(activity["database"] == .string("shop") && activity["window_seconds"] == .number(3))
        #expect(activity["deadlocks"] == .number(3) && activity["deadlocks_total"] == .number(43))
        #expect(activity["xact_commit"] == .number(300) && activity["xact_rollback"] == .number(0))
        #expect(activity["blks_read"] == .number(2000) && activity["blks_hit"] == .number(1000))
        #expect(activity["hit_ratio"] == .number(0.3333), "hits over hits and reads in the window, not since the reset")
        #expect(activity["temp_bytes"] == .number(0))
        // orders, sales.items and tied each wrote 60: ties by name; quiet did nothing and is left out.
        let busiest = (activity["busiest_tables"]?.arrayValue ?? []).map { "\($0["table"]?.description ?? "?")=\($0["writes"]?.description ?? "?")" }
        let expectedBusiest = ["orders=60", "sales.items=60", "tied=60"]
        #expect(busiest == expectedBusiest)
        let mostRead = try #require(activity["most_read_tables"]?.arrayValue)
        let expectedFirst: JSONValue = .object(["table": .string("orders"), "blocks_read": .number(2000), "blocks_hit": .number(100)])
        #expect(mostRead.first == expectedFirst)
        #expect(mostRead.count == 2, "created read 3 blocks since it appeared; the others read none")
        #expect(activity["contended_tables"] == .array([.string("orders")]))
    }

    @Test func aStatisticsResetInTheWindowGivesNoNegativeCounts() throws {
        let first = try Self.reading(deadlocks: 40, commits: 1000, read: 500, hit: 9500, tables: #"{"1": ["orders", 100, 10, 90]}"#)
        let second = try Self.reading(deadlocks: 0, commits: 12, read: 0, hit: 0, tables: #"{"1": ["orders", 3, 0, 0]}"#)
        let activity = DatabaseTools.activity(first: first, second: second, seconds: 1)
        #expect(activity["deadlocks"] == .number(0) && activity["xact_commit"] == .number(0))
        #expect(activity["hit_ratio"] == .null, "no block touched in the window: no ratio")
        #expect(activity["busiest_tables"] == .array([]) && activity["most_read_tables"] == .array([]))
    }

    @Test func theTopApplicationAndItsShareOfMaxConnections() throws {
        let row = try JSONValue(parsing: """
            {"total": 19, "max_connections": 20, "by_application": [
              {"application": "reporting-pool", "connections": 17, "by_state": {"idle": 17}},
              {"application": "(none)", "connections": 2, "by_state": {"active": 1, "idle": 1}}]}
            """)
        let stats = DatabaseTools.withTopApplication(row)
        #expect(stats["top_application"] == row["by_application"]?.arrayValue?.first)
        #expect(stats["top_application_share"] == .number(0.85))
        #expect(stats["total"] == .number(19), "the other fields stay")
        let idle = DatabaseTools.withTopApplication(try JSONValue(parsing: #"{"total": 0, "max_connections": 20, "by_application": []}"#))
        #expect(idle["top_application"] == .null && idle["top_application_share"] == .null)
    }

    @Test func theNewReadsAreReadsWithTheirParameters() throws {
        let tools = Dictionary(uniqueKeysWithValues: DatabaseTools.all.map { ($0.0.name, $0.0) })
        let activity = try #require(tools["database_activity"])
        #expect(activity.action == .read)
        #expect(activity.parameters.map(\.name) == ["seconds"])
        #expect(activity.validate(["seconds": .string("5")]) == nil)
        let tableStats = try #require(tools["table_stats"])
        #expect(tableStats.action == .read && tableStats.parameters.isEmpty)
        #expect(DatabaseAgent.toolNames.contains("database_activity") && DatabaseAgent.toolNames.contains("table_stats"))
    }

    @Test func theActivitySQLListsContentionOnlyInTheSecondReading() {
        #expect(DatabaseTools.activitySQL(contention: false).contains("'[]'::json AS contended_tables"))
        let second = DatabaseTools.activitySQL(contention: true)
        #expect(second.contains("pg_blocking_pids"))
        // It takes the lock manager's locks: once per waiting session, in a CTE the planner cannot inline.
        #expect(second.components(separatedBy: "pg_blocking_pids(").count == 2, "called in one place")
        #expect(second.contains("AS MATERIALIZED"))
    }

    @Test func aSlowDeadlockRateShowsSinceTheStatisticsReset() throws {
        // One deadlock a minute: a 3 s window usually sees none, the rate since the reset does.
        func reading(commits: Int, perHour: String) throws -> JSONValue {
            try JSONValue(parsing: """
                {"database": "shop", "deadlocks": 120, "xact_commit": \(commits), "xact_rollback": 0, "blks_read": 0, "blks_hit": 0,
                 "temp_bytes": 0, "stats_reset": "2026-11-25T09:00:00+00:00", "deadlocks_per_hour": \(perHour),
                 "tables": {}, "contended_tables": []}
                """)
        }
        let activity = DatabaseTools.activity(first: try reading(commits: 10, perHour: "60"),
                                              second: try reading(commits: 12, perHour: "60.02"), seconds: 3)
        #expect(activity["deadlocks"] == .number(0))
        #expect(activity["deadlocks_per_hour"] == .number(60.02), "from the second reading")
        #expect(activity["stats_reset"] == .string("2026-11-25T09:00:00+00:00"))
        let plain = try Self.reading(deadlocks: 1, commits: 1, read: 0, hit: 0, tables: "{}")
        let neverReset = DatabaseTools.activity(first: plain, second: plain, seconds: 3)
        #expect(neverReset["deadlocks_per_hour"] == .null && neverReset["stats_reset"] == .null, "present, and null")
    }

    @Test func theActivityWindowIsAtMostSevenSeconds() throws {
        #expect(DatabaseTools.activityMaxSeconds == 7, "7 s and two one-row readings fit in the default 10 s tool timeout")
        let tools = Dictionary(uniqueKeysWithValues: DatabaseTools.all.map { ($0.0.name, $0.0) })
        let seconds = try #require(tools["database_activity"]?.parameters.first)
        #expect(seconds.summary.contains("1 to 7"))
    }
}
