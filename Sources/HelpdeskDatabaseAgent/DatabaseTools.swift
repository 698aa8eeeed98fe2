import HelpdeskAgents
import HelpdeskCore

/// The SQL behind each database tool. Every read is a plain SELECT run inside a read-only
/// transaction by ``PostgresSession``; rows come back as JSON objects named by the column aliases.
/// Reads that list sessions give each one's `backend_start`, so a recommended session action can
/// carry it and act only on the session the diagnosis saw.
enum DatabaseTools {
    static let agent = "database"

    struct Limits: Sendable {
        var statementTimeout: Duration
        var rowCap: Int
        /// The target's `disk_capacity` from the inventory, set per call: what `database_sizes` compares with.
        var diskCapacityBytes: Int64? = nil
    }

    typealias Body = @Sendable (PostgresSession, ToolCall, Limits) async throws -> JSONValue

    /// Runs `body` in a fresh session to the call's target, holding one of the target's connection
    /// permits only while that session is open.
    typealias OpenSession = @Sendable (_ body: @escaping @Sendable (PostgresSession) async throws -> JSONValue) async throws -> JSONValue

    /// A tool that opens its sessions itself, so it can wait between two of them holding no permit
    /// and no connection.
    typealias SessionsBody = @Sendable (OpenSession, ToolCall, Limits) async throws -> JSONValue

    /// How a tool uses the target: most run in one session; `database_activity` reads, waits, and reads again.
    enum Run: Sendable {
        case session(Body)
        case sessions(SessionsBody)
    }

    static let all: [(ToolDescriptor, Run)] = [
        (ToolDescriptor(name: "server_info", agent: agent, action: .read, summary: "Version, uptime, role and key settings."),
         .session(serverInfo)),
        (ToolDescriptor(name: "connection_stats", agent: agent, action: .read,
                        summary: "Client connections by state, user and application, against max_connections."), .session(connectionStats)),
        (ToolDescriptor(name: "long_running_queries", agent: agent, action: .read, summary: "Statements running longer than min_seconds.",
                        parameters: [ToolParameter("min_seconds", .integer, "only statements running at least this long (default 60)")]),
         .session(longRunningQueries)),
        (ToolDescriptor(name: "idle_in_transaction", agent: agent, action: .read,
                        summary: "Sessions idle inside an open transaction for over min_seconds, with how many sessions each blocks.",
                        parameters: [ToolParameter("min_seconds", .integer, "only sessions idle at least this long (default 60)")]),
         .session(idleInTransaction)),
        (ToolDescriptor(name: "blocking_locks", agent: agent, action: .read,
                        summary: "The blocking tree: each session holding locks others wait on, what it is doing, and whom it blocks."),
         .session(blockingLocks)),
        (ToolDescriptor(name: "replication_status", agent: agent, action: .read, summary: "Replica lag and replication slots."),
         .session(replicationStatus)),
        (ToolDescriptor(name: "database_sizes", agent: agent, action: .read,
                        summary: "Size of every database, WAL and the largest tables, against the inventory's disk_capacity."),
         .session(databaseSizes)),
        (ToolDescriptor(name: "cache_hit_ratio", agent: agent, action: .read, summary: "Buffer cache hit ratio per database."),
         .session(cacheHitRatio)),
        (ToolDescriptor(name: "vacuum_stats", agent: agent, action: .read,
                        summary: "Tables with the most dead tuples, when they were vacuumed and what snapshot held vacuum back, "
                            + "and transaction-ID wraparound age against autovacuum_freeze_max_age."), .session(vacuumStats)),
        (ToolDescriptor(name: "top_queries", agent: agent, action: .read,
                        summary: "Statements by total time, with blocks read and rows per call, when pg_stat_statements is installed.",
                        parameters: [ToolParameter("limit", .integer, "how many statements (default 10)")]), .session(topQueries)),
        (ToolDescriptor(name: "database_activity", agent: agent, action: .read,
                        summary: "What the current database did over a few seconds: deadlocks, commits, rollbacks, blocks read, "
                            + "cache hit ratio, the busiest and most read tables, and tables under lock contention.",
                        parameters: [ToolParameter("seconds", .integer, "the window between the two reads, 1 to 7 (default 3)")]),
         .sessions(databaseActivity)),
        (ToolDescriptor(name: "table_stats", agent: agent, action: .read,
                        summary: "Tables read most by sequential scans, with index scans, size and number of indexes."), .session(tableStats)),
        (ToolDescriptor(name: "cancel_query", agent: agent, action: .write, summary: "Cancel the statement a session is running.",
                        parameters: sessionParameters), .session(cancelQuery)),
        (ToolDescriptor(name: "terminate_backend", agent: agent, action: .destructive,
                        summary: "End a session, rolling back its transaction and releasing its locks.",
                        parameters: sessionParameters), .session(terminateBackend)),
    ]

    // MARK: Reads

    /// `statement_timeout` as a session of the bot's user starts with (`reset_val`: the server's, the database's or
    /// that role's setting) and as PostgreSQL writes it, not the read's own limit.
    static let serverInfo: Body = { session, _, limits in
        try await session.readRow("""
            SELECT version() AS version, current_setting('server_version') AS server_version,
                   pg_postmaster_start_time() AS started_at,
                   extract(epoch FROM now() - pg_postmaster_start_time())::bigint AS uptime_seconds,
                   CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END AS role,
                   (SELECT json_object_agg(name, CASE WHEN name <> 'statement_timeout' THEN current_setting(name) ELSE
                       (SELECT CASE WHEN v = 0 THEN '0' WHEN v % 86400000 = 0 THEN v / 86400000 || 'd' WHEN v % 3600000 = 0 THEN v / 3600000 || 'h'
                                    WHEN v % 60000 = 0 THEN v / 60000 || 'min' WHEN v % 1000 = 0 THEN v / 1000 || 's' ELSE v || 'ms' END
                        FROM (SELECT reset_val::bigint AS v) ms) END ORDER BY name)
                    FROM pg_settings WHERE name IN (
                       'max_connections', 'superuser_reserved_connections', 'shared_buffers', 'work_mem',
                       'maintenance_work_mem', 'effective_cache_size', 'statement_timeout', 'lock_timeout',
                       'idle_in_transaction_session_timeout', 'max_wal_size', 'wal_level', 'autovacuum',
                       'max_replication_slots', 'shared_preload_libraries')) AS settings
            """, statementTimeout: limits.statementTimeout)
    }

    /// Also by application (top 10, client backends, `(none)` for an empty name): one pool holding most
    /// connections is the usual cause of "too many clients", and the fix is that pool's size.
    static let connectionStats: Body = { session, _, limits in
        let row = try await session.readRow("""
            SELECT count(*) AS total,
                   current_setting('max_connections')::int AS max_connections,
                   current_setting('superuser_reserved_connections')::int AS reserved_connections,
                   round(count(*)::numeric / current_setting('max_connections')::int, 4) AS used_ratio,
                   round(100 * count(*)::numeric / current_setting('max_connections')::int, 1) AS used_percent,
                   coalesce((SELECT json_object_agg(state, n) FROM (
                       SELECT coalesce(state, 'unknown') AS state, count(*) AS n FROM pg_stat_activity
                       WHERE backend_type = 'client backend' GROUP BY 1) s), '{}') AS by_state,
                   coalesce((SELECT json_object_agg(usename, n) FROM (
                       SELECT coalesce(usename, 'unknown') AS usename, count(*) AS n FROM pg_stat_activity
                       WHERE backend_type = 'client backend' GROUP BY 1) u), '{}') AS by_user,
                   (SELECT coalesce(json_agg(json_build_object('application', application, 'connections', connections,
                                                               'by_state', by_state) ORDER BY connections DESC, application), '[]')
                    FROM (SELECT application, sum(n)::bigint AS connections, json_object_agg(state, n ORDER BY state) AS by_state
                          FROM (SELECT coalesce(nullif(application_name, ''), '(none)') AS application,
                                       coalesce(state, 'unknown') AS state, count(*) AS n
                                FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2) per_state
                          GROUP BY application ORDER BY connections DESC, application LIMIT 10) apps) AS by_application,
                   current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - count(*)
                       AS available_connections
            FROM pg_stat_activity WHERE backend_type = 'client backend'
            """, statementTimeout: limits.statementTimeout)
        return withTopApplication(row)
    }

    /// `top_application`: the first of `by_application` (`null` without client sessions), and its
    /// `top_application_share` of max_connections.
    static func withTopApplication(_ row: JSONValue) -> JSONValue {
        guard case .object(var fields) = row else { return row }
        let top = fields["by_application"]?.arrayValue?.first
        fields["top_application"] = top ?? .null
        if let connections = top?["connections"]?.doubleValue, let maximum = fields["max_connections"]?.doubleValue, maximum > 0 {
            fields["top_application_share"] = .number(rounded(connections / maximum))
        } else {
            fields["top_application_share"] = .null
        }
        return .object(fields)
    }

    /// Four decimals, as the SQL's `round(…, 4)` gives its ratios.
    static func rounded(_ value: Double) -> Double {
        (value * 10_000).rounded() / 10_000
    }

    static let longRunningQueries: Body = { session, call, limits in
        let minimum = Int(call.integer("min_seconds") ?? 60)
        let (rows, truncated) = try await session.readRows("""
            SELECT pid, backend_start, usename AS user, application_name AS application, client_addr::text AS client, state,
                   extract(epoch FROM now() - query_start)::bigint AS running_seconds,
                   wait_event_type, wait_event, left(query, 1000) AS query
            FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND state NOT IN ('idle') AND pid <> pg_backend_pid()
              AND query_start <= now() - $1 * interval '1 second'
            ORDER BY query_start
            """, [minimum], rowCap: limits.rowCap, statementTimeout: limits.statementTimeout)
        return .object(["min_seconds": .number(Double(minimum)), "queries": .array(rows), "truncated": .bool(truncated)])
    }

    static let idleInTransaction: Body = { session, call, limits in
        let minimum = Int(call.integer("min_seconds") ?? 60)
        let (rows, truncated) = try await session.readRows("""
            SELECT a.pid, a.backend_start, a.usename AS user, a.application_name AS application, a.client_addr::text AS client, a.state,
                   extract(epoch FROM now() - a.state_change)::bigint AS idle_seconds,
                   extract(epoch FROM now() - a.xact_start)::bigint AS transaction_seconds,
                   (SELECT count(*) FROM pg_stat_activity w WHERE a.pid = ANY (pg_blocking_pids(w.pid))) AS blocked_count,
                   left(a.query, 1000) AS last_query
            FROM pg_stat_activity a
            WHERE a.state IN ('idle in transaction', 'idle in transaction (aborted)')
              AND a.state_change <= now() - $1 * interval '1 second'
            ORDER BY a.state_change
            """, [minimum], rowCap: limits.rowCap, statementTimeout: limits.statementTimeout)
        return .object(["min_seconds": .number(Double(minimum)), "sessions": .array(rows), "truncated": .bool(truncated)])
    }

    /// Every session others wait on, with whom it blocks directly (`blocked`, `blocked_count`) and
    /// through chains of waiters (`blocked_total`): row-lock waiters queue behind each other, so
    /// the root of a pile-up often blocks one session directly and many more through it. `tables`:
    /// the tables (not indexes) of this database it holds locks on, so a finding can name them.
    static let blockingLocks: Body = { session, _, limits in
        let (rows, truncated) = try await session.readRows("""
            WITH RECURSIVE waiting AS (
                SELECT pid, usename, application_name, pg_blocking_pids(pid) AS blocked_by,
                       extract(epoch FROM now() - coalesce(query_start, state_change))::bigint AS waiting_seconds,
                       left(query, 500) AS query
                FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0),
            edges AS (SELECT w.pid AS waiter, unnest(w.blocked_by) AS blocker FROM waiting w),
            tree AS (SELECT blocker AS root, waiter FROM edges
                     UNION SELECT t.root, e.waiter FROM tree t JOIN edges e ON e.blocker = t.waiter)
            SELECT b.pid, b.backend_start, b.usename AS user, b.application_name AS application, b.client_addr::text AS client, b.state,
                   CASE WHEN b.state LIKE 'idle in transaction%'
                        THEN extract(epoch FROM now() - b.state_change)::bigint ELSE 0 END AS idle_seconds,
                   extract(epoch FROM now() - b.xact_start)::bigint AS transaction_seconds,
                   left(b.query, 500) AS query,
                   count(w.pid) AS blocked_count,
                   (SELECT count(DISTINCT t.waiter) FROM tree t WHERE t.root = b.pid) AS blocked_total,
                   (SELECT max(x.waiting_seconds) FROM tree t JOIN waiting x ON x.pid = t.waiter WHERE t.root = b.pid) AS longest_wait_seconds,
                   NOT EXISTS (SELECT 1 FROM waiting x WHERE x.pid = b.pid) AS is_root,
                   json_agg(json_build_object('pid', w.pid, 'user', w.usename, 'application', w.application_name,
                                              'waiting_seconds', w.waiting_seconds, 'query', w.query) ORDER BY w.pid) AS blocked,
                   (SELECT coalesce(json_agg(held.name ORDER BY held.name), '[]') FROM (
                       SELECT DISTINCT l.relation::regclass::text AS name
                       FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE l.pid = b.pid AND l.locktype = 'relation' AND l.granted AND c.relkind IN ('r', 'p', 'm', 'v', 'f')
                         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                         AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                       ORDER BY 1 LIMIT 10) held) AS tables
            FROM pg_stat_activity b JOIN waiting w ON b.pid = ANY (w.blocked_by)
            GROUP BY b.pid, b.backend_start, b.usename, b.application_name, b.client_addr, b.state, b.state_change, b.xact_start, b.query
            ORDER BY is_root DESC, blocked_total DESC, b.pid
            """, rowCap: limits.rowCap, statementTimeout: limits.statementTimeout)
        let waiting = try await session.readRow(
            "SELECT count(*) AS waiting FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0",
            statementTimeout: limits.statementTimeout)
        return .object(["blockers": .array(rows), "waiting_sessions": waiting["waiting"] ?? .number(0), "truncated": .bool(truncated)])
    }

    static let replicationStatus: Body = { session, _, limits in
        let role = try await session.readRow("""
            SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END AS role,
                   CASE WHEN pg_is_in_recovery()
                        THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS replay_delay_seconds
            """, statementTimeout: limits.statementTimeout)
        guard role["role"] == .string("primary") else { return role }
        let replicas = try await session.readRows("""
            SELECT application_name AS application, client_addr::text AS client, state, sync_state,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS replay_lag_bytes,
                   pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)) AS replay_lag,
                   extract(epoch FROM replay_lag) AS replay_lag_seconds
            FROM pg_stat_replication ORDER BY application_name
            """, rowCap: limits.rowCap, statementTimeout: limits.statementTimeout).rows
        let slots = try await session.readRows("""
            SELECT slot_name AS slot, slot_type AS type, active,
                   pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained_bytes,
                   pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) AS retained
            FROM pg_replication_slots ORDER BY slot_name
            """, rowCap: limits.rowCap, statementTimeout: limits.statementTimeout).rows
        return .object(["role": .string("primary"), "replicas": .array(replicas), "slots": .array(slots)])
    }

    static let cacheHitRatio: Body = { session, _, limits in
        let (rows, truncated) = try await session.readRows("""
            SELECT datname AS database, blks_hit, blks_read,
                   round(blks_hit::numeric / nullif(blks_hit + blks_read, 0), 4) AS hit_ratio
            FROM pg_stat_database WHERE datname IS NOT NULL ORDER BY blks_read DESC
            """, rowCap: limits.rowCap, statementTimeout: limits.statementTimeout)
        let current = rows.first { $0["database"] == .string(session.database) }
        return .object(["databases": .array(rows), "current": current ?? .null, "truncated": .bool(truncated)])
    }

    static let topQueries: Body = { session, call, limits in
        let installed = try await session.readRow(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed",
            statementTimeout: limits.statementTimeout)
        guard installed["installed"] == .bool(true) else {
            return .object(["available": .bool(false), "reason": .string("pg_stat_statements is not installed in this database")])
        }
        let limit = Int(min(max(call.integer("limit") ?? 10, 1), Int64(limits.rowCap)))
        let rows = try await session.readRows("""
            SELECT queryid::text AS query_id, calls, round(total_exec_time::numeric, 1) AS total_ms,
                   round(mean_exec_time::numeric, 2) AS mean_ms, rows, left(query, 500) AS query,
                   shared_blks_read, shared_blks_hit, round(rows::numeric / nullif(calls, 0), 2) AS mean_rows
            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1
            """, [limit], rowCap: limit, statementTimeout: limits.statementTimeout).rows
        return .object(["available": .bool(true), "queries": .array(rows)])
    }
}
