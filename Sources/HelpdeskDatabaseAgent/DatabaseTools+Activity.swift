import HelpdeskAgents
import HelpdeskCore

/// `database_activity`: the current database's counters read twice, a few seconds apart, so a
/// diagnosis sees what is happening now (deadlocks per second, the cache hit ratio of this window)
/// rather than totals since the last statistics reset.
extension DatabaseTools {
    static let activityDefaultSeconds = 3
    /// The longest window. The call must end within the default 10 s tool timeout (a runbook may give it
    /// more, the model cannot): 7 s leaves 3 s for two connections and two one-row readings, which
    /// take milliseconds unless the database is in trouble — and then the timeout cuts the call short,
    /// holding no permit while it waits, so nothing else is held up by it.
    static let activityMaxSeconds = 7

    /// One reading: the database's counters and each user table's, as `{relid: [table, writes,
    /// heap blocks read, heap blocks hit]}` so a table created or dropped in between is simply new or
    /// gone; `deadlocks_per_hour` since the statistics were reset (`null` without a reset, or under a
    /// minute ago), for a rate too slow for the window. The second reading also lists the tables
    /// locked by sessions that wait or are waited on.
    static func activitySQL(contention: Bool) -> String {
        // pg_blocking_pids() takes the lock manager's locks each time; on a database piling up locks it is
        // called once per session that waits on a lock (only those can be blocked), materialized so the
        // planner cannot inline it and call it again.
        let contended = contention ? """
            (WITH blocking AS MATERIALIZED (
                 SELECT pid, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity WHERE wait_event_type = 'Lock'),
             involved AS (SELECT pid FROM blocking WHERE cardinality(blockers) > 0
                          UNION SELECT unnest(blockers) FROM blocking)
             SELECT coalesce(json_agg(contended.name ORDER BY contended.name), '[]') FROM (
                SELECT DISTINCT \(tableName()) AS name
                FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE l.locktype = 'relation' AND c.relkind IN ('r', 'p', 'm')
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND l.pid IN (SELECT pid FROM involved)
                ORDER BY 1 LIMIT 10) contended)
            """ : "'[]'::json"
        return """
            SELECT d.datname AS database, d.deadlocks, d.xact_commit, d.xact_rollback, d.blks_read, d.blks_hit, d.temp_bytes,
                   d.stats_reset,
                   CASE WHEN d.stats_reset IS NULL OR d.stats_reset > now() - interval '1 minute' THEN NULL
                        ELSE round(d.deadlocks / (extract(epoch FROM now() - d.stats_reset) / 3600), 2) END AS deadlocks_per_hour,
                   (SELECT coalesce(json_object_agg(s.relid, json_build_array(
                               \(tableName(schema: "s.schemaname", name: "s.relname")), s.n_tup_ins + s.n_tup_upd + s.n_tup_del,
                               coalesce(io.heap_blks_read, 0), coalesce(io.heap_blks_hit, 0))), '{}')
                    FROM pg_stat_user_tables s JOIN pg_statio_user_tables io USING (relid)) AS tables,
                   \(contended) AS contended_tables
            FROM pg_stat_database d WHERE d.datname = current_database()
            """
    }

    /// Each reading is its own session and transaction (PostgreSQL 15 caches statistics for the rest of a
    /// transaction, so two reads in one would see the same numbers), holding one of the target's two
    /// permits only while it reads: the wait between them holds neither a permit nor a connection, so
    /// diagnoses measuring a lock pile-up cannot keep out the `terminate_backend` that ends it. The
    /// window reported is the one measured (whole seconds): the second reading may wait for a permit.
    static let databaseActivity: SessionsBody = { open, call, limits in
        let seconds = Int(min(max(call.integer("seconds") ?? Int64(activityDefaultSeconds), 1), Int64(activityMaxSeconds)))
        let first = try await open { session in
            try await session.readRow(activitySQL(contention: false), statementTimeout: limits.statementTimeout)
        }
        guard first != .null else { throw ToolError("pg_stat_database has no row for the current database") }
        let firstRead = ContinuousClock.now
        try await Task.sleep(for: .seconds(seconds))
        let second = try await open { session in
            try await session.readRow(activitySQL(contention: true), statementTimeout: limits.statementTimeout)
        }
        let measured = (ContinuousClock.now - firstRead).seconds
        return activity(first: first, second: second, seconds: max(seconds, Int(measured.rounded())))
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
            "deadlocks_per_hour": second["deadlocks_per_hour"] ?? .null,
            "stats_reset": second["stats_reset"] ?? .null,
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
