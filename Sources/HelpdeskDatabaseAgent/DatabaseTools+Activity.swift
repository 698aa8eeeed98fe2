import HelpdeskAgents
import HelpdeskCore

/// `database_activity`: the current database's counters read twice, a few seconds apart, so a
/// diagnosis sees what is happening now (deadlocks per second, the cache hit ratio of this window)
/// rather than totals since the last statistics reset.
extension DatabaseTools {
    static let activityDefaultSeconds = 3

    /// One reading: the database's counters and each user table's, as `{relid: [table, writes,
    /// heap blocks read, heap blocks hit]}` so a table created or dropped in between is simply new or
    /// gone. The second reading also lists the tables locked by sessions that wait or are waited on.
    static func activitySQL(contention: Bool) -> String {
        let contended = contention ? """
            (SELECT coalesce(json_agg(contended.name ORDER BY contended.name), '[]') FROM (
                SELECT DISTINCT \(tableName()) AS name
                FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE l.locktype = 'relation' AND c.relkind IN ('r', 'p', 'm')
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND l.pid IN (SELECT pid FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0
                                UNION SELECT unnest(pg_blocking_pids(pid)) FROM pg_stat_activity)
                ORDER BY 1 LIMIT 10) contended)
            """ : "'[]'::json"
        return """
            SELECT d.datname AS database, d.deadlocks, d.xact_commit, d.xact_rollback, d.blks_read, d.blks_hit, d.temp_bytes,
                   (SELECT coalesce(json_object_agg(s.relid, json_build_array(
                               \(tableName(schema: "s.schemaname", name: "s.relname")), s.n_tup_ins + s.n_tup_upd + s.n_tup_del,
                               coalesce(io.heap_blks_read, 0), coalesce(io.heap_blks_hit, 0))), '{}')
                    FROM pg_stat_user_tables s JOIN pg_statio_user_tables io USING (relid)) AS tables,
                   \(contended) AS contended_tables
            FROM pg_stat_database d WHERE d.datname = current_database()
            """
    }

    /// Each reading is its own transaction (``PostgresSession/readRow(_:_:statementTimeout:)``): PostgreSQL 15
    /// caches statistics for the rest of a transaction, so two reads in one would see the same numbers.
    /// The wait is here, between statements, never inside one, so the statement timeout does not bound it.
    static let databaseActivity: Body = { session, call, limits in
        let seconds = Int(min(max(call.integer("seconds") ?? Int64(activityDefaultSeconds), 1), 10))
        let first = try await session.readRow(activitySQL(contention: false), statementTimeout: limits.statementTimeout)
        guard first != .null else { throw ToolError("pg_stat_database has no row for the current database") }
        try await Task.sleep(for: .seconds(seconds))
        let second = try await session.readRow(activitySQL(contention: true), statementTimeout: limits.statementTimeout)
        return activity(first: first, second: second, seconds: seconds)
    }

    /// What changed between two readings. Counters only grow; a statistics reset in between gives 0, not
    /// a negative. Tables with no change are not listed.
    static func activity(first: JSONValue, second: JSONValue, seconds: Int) -> JSONValue {
        func delta(_ key: String) -> Double {
            max(0, (second[key]?.doubleValue ?? 0) - (first[key]?.doubleValue ?? 0))
        }
        let read = delta("blks_read")
        let hit = delta("blks_hit")
        let before = tableCounters(first["tables"])
        let changes = tableCounters(second["tables"]).map { entry -> TableCounters in
            let (now, then) = (entry.value, before[entry.key])
            return TableCounters(table: now.table, writes: max(0, now.writes - (then?.writes ?? 0)),
                                 blocksRead: max(0, now.blocksRead - (then?.blocksRead ?? 0)),
                                 blocksHit: max(0, now.blocksHit - (then?.blocksHit ?? 0)))
        }
        let busiest = top(changes.filter { $0.writes > 0 }, by: \.writes).map { table -> JSONValue in
            .object(["table": .string(table.table), "writes": .number(table.writes)])
        }
        let mostRead = top(changes.filter { $0.blocksRead > 0 }, by: \.blocksRead).map { table -> JSONValue in
            .object(["table": .string(table.table), "blocks_read": .number(table.blocksRead), "blocks_hit": .number(table.blocksHit)])
        }
        let contended = second["contended_tables"]?.arrayValue ?? []
        // What a finding names: the tables sessions wait on now, else those written most in the window.
        let involved = contended.isEmpty ? busiest.compactMap { $0["table"] } : contended
        return .object([
            "involved_tables": .array(involved),
            "busiest_table": busiest.first?["table"] ?? .null,
            "most_read_table": mostRead.first?["table"] ?? .null,
            "database": second["database"] ?? first["database"] ?? .null,
            "window_seconds": .number(Double(seconds)),
            "deadlocks": .number(delta("deadlocks")),
            "deadlocks_total": second["deadlocks"] ?? .null,
            "xact_commit": .number(delta("xact_commit")),
            "xact_rollback": .number(delta("xact_rollback")),
            "blks_read": .number(read),
            "blks_hit": .number(hit),
            "hit_ratio": read + hit > 0 ? JSONValue.number(rounded(hit / (hit + read))) : JSONValue.null,
            "temp_bytes": .number(delta("temp_bytes")),
            "busiest_tables": .array(busiest),
            "most_read_tables": .array(mostRead),
            "contended_tables": .array(contended),
        ])
    }

    struct TableCounters {
        var table: String
        var writes: Double
        var blocksRead: Double
        var blocksHit: Double
    }

    /// The `tables` object of a reading, by relid.
    static func tableCounters(_ value: JSONValue?) -> [String: TableCounters] {
        guard case .object(let tables)? = value else { return [:] }
        var counters: [String: TableCounters] = [:]
        for (relid, entry) in tables {
            guard let fields = entry.arrayValue, fields.count == 4, case .string(let table) = fields[0] else { continue }
            counters[relid] = TableCounters(table: table, writes: fields[1].doubleValue ?? 0, blocksRead: fields[2].doubleValue ?? 0,
                                            blocksHit: fields[3].doubleValue ?? 0)
        }
        return counters
    }

    /// The three largest by `key`, ties by name, so the same readings always list the same tables.
    static func top(_ tables: [TableCounters], by key: KeyPath<TableCounters, Double>) -> [TableCounters] {
        let sorted = tables.sorted { left, right in
            left[keyPath: key] != right[keyPath: key] ? left[keyPath: key] > right[keyPath: key] : left.table < right.table
        }
        return Array(sorted.prefix(3))
    }
}
