import HelpdeskAgents
import HelpdeskCore

/// Where the space and the dead rows are: sizes against the disk, vacuum and freezing, tables read by
/// sequential scans. A table's `table` is `name` in `public`, else `schema.name`.
extension DatabaseTools {
    /// The SQL for a table's display name, from `n.nspname` and `c.relname` (or the given columns).
    static func tableName(schema: String = "n.nspname", name: String = "c.relname") -> String {
        "CASE WHEN \(schema) = 'public' THEN \(name) ELSE \(schema) || '.' || \(name) END"
    }

    /// Sizes lock nothing, but `pg_total_relation_size` waits for the lock an `ALTER TABLE` or `VACUUM FULL`
    /// holds (or queues for): such a table is left without a size rather than stalling the whole read.
    static let notExclusivelyLocked =
        "NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.relation = c.oid AND l.mode = 'AccessExclusiveLock')"

    /// Every database's size, and how full the disk is: `used_bytes` is every database (template0 too)
    /// plus the WAL directory, against the inventory's `disk_capacity` (`capacity_bytes`, `used_ratio`
    /// `null` without one). `wal_bytes` is `null` when this user may not run `pg_ls_waldir()` (superusers and
    /// `pg_monitor` may); the checks are separate statements, as a denied function fails the whole statement.
    static let databaseSizes: Body = { session, _, limits in
        let (rows, truncated) = try await session.readRows("""
            SELECT datname AS database, pg_database_size(datname) AS bytes, pg_size_pretty(pg_database_size(datname)) AS size
            FROM pg_database WHERE datallowconn ORDER BY 2 DESC
            """, rowCap: limits.rowCap, statementTimeout: limits.statementTimeout)
        let permitted = try await session.readRow(
            "SELECT has_function_privilege('pg_ls_waldir()', 'EXECUTE') AS permitted", statementTimeout: limits.statementTimeout)
        var walBytes: Int64?
        if permitted["permitted"] == .bool(true),
           let listed = try? await session.readRow("SELECT coalesce(sum(size), 0)::bigint AS bytes FROM pg_ls_waldir()",
                                                   statementTimeout: limits.statementTimeout),
           let bytes = listed["bytes"]?.doubleValue {
            walBytes = Int64(bytes)
        }
        // Whole numbers this process holds, written as SQL literals.
        let wal = walBytes.map { "\($0)::bigint" } ?? "NULL::bigint"
        let capacity = limits.diskCapacityBytes.map { "\($0)::bigint" } ?? "NULL::bigint"
        let totals = try await session.readRow("""
            SELECT totals.databases_bytes, \(wal) AS wal_bytes, totals.databases_bytes + coalesce(\(wal), 0) AS used_bytes,
                   pg_size_pretty(totals.databases_bytes + coalesce(\(wal), 0)) AS used,
                   \(capacity) AS capacity_bytes, pg_size_pretty(\(capacity)) AS capacity,
                   round((totals.databases_bytes + coalesce(\(wal), 0))::numeric / nullif(\(capacity), 0), 4) AS used_ratio,
                   (SELECT coalesce(json_agg(largest), '[]') FROM (
                        SELECT \(tableName()) AS table, pg_total_relation_size(c.oid) AS bytes,
                               pg_size_pretty(pg_total_relation_size(c.oid)) AS size
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                          AND n.nspname !~ '^pg_(toast|temp)' AND \(notExclusivelyLocked)
                        ORDER BY 2 DESC, 1 LIMIT 5) largest) AS largest_tables
            FROM (SELECT sum(pg_database_size(d.oid))::bigint AS databases_bytes FROM pg_database d
                  WHERE has_database_privilege(d.oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'MEMBER')) totals
            """, statementTimeout: limits.statementTimeout)
        guard case .object(var fields) = totals else {
            return .object(["databases": .array(rows), "truncated": .bool(truncated)])
        }
        fields["databases"] = .array(rows)
        fields["truncated"] = .bool(truncated)
        return .object(fields)
    }

    /// The session holding the oldest snapshot or transaction ID back in this database (`backend_xmin`,
    /// or `backend_xid` of one that wrote): vacuum cannot remove rows it may still see. `FILTER` is SQL
    /// that narrows the candidates further. Columns other users' sessions hide need `pg_read_all_stats`.
    static func horizonHolder(_ filter: String = "true") -> String {
        """
        SELECT row_to_json(held) FROM (
            SELECT a.pid, a.backend_start, a.usename AS user, a.application_name AS application, a.state,
                   extract(epoch FROM now() - a.xact_start)::bigint AS snapshot_seconds,
                   greatest(age(a.backend_xmin), age(a.backend_xid)) AS xmin_age
            FROM pg_stat_activity a
            WHERE (a.backend_xmin IS NOT NULL OR a.backend_xid IS NOT NULL) AND a.pid <> pg_backend_pid()
              AND a.datname = current_database() AND a.backend_type <> 'autovacuum worker' AND \(filter)
            ORDER BY greatest(age(a.backend_xmin), age(a.backend_xid)) DESC, a.xact_start LIMIT 1) held
        """
    }

    /// Dead tuples per table with when each was last vacuumed, whether autovacuum may run on it, and the
    /// session whose transaction began before that vacuum (`vacuum_held_back_by`): the vacuum ran but left
    /// the rows that session may see. Wraparound per database against `autovacuum_freeze_max_age`, when
    /// autovacuum must freeze, and the hard limit (~2^31).
    static let vacuumStats: Body = { session, _, limits in
        let tables = try await session.readRows("""
            SELECT s.schemaname AS schema, s.relname AS table, s.n_live_tup AS live_tuples, s.n_dead_tup AS dead_tuples,
                   quote_ident(s.schemaname) || '.' || quote_ident(s.relname) AS sql_name,
                   round(s.n_dead_tup::numeric / nullif(s.n_live_tup + s.n_dead_tup, 0), 4) AS dead_ratio,
                   s.last_autovacuum, s.last_vacuum, s.autovacuum_count,
                   greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuumed,
                   s.last_vacuum IS NULL AND s.last_autovacuum IS NULL AS never_vacuumed,
                   NOT EXISTS (SELECT 1 FROM unnest(c.reloptions) o
                               WHERE o ~* '^autovacuum_enabled=(f|fa|fal|fals|false|n|no|of|off|0)$') AS autovacuum_enabled,
                   (\(horizonHolder("a.xact_start < greatest(s.last_vacuum, s.last_autovacuum)"))) AS vacuum_held_back_by
            FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
            ORDER BY s.n_dead_tup DESC
            """, rowCap: min(limits.rowCap, 20), statementTimeout: limits.statementTimeout).rows
        let wraparound = try await session.readRows("""
            SELECT datname AS database, age(datfrozenxid) AS xid_age,
                   round(age(datfrozenxid)::numeric / 2147483647, 4) AS wraparound_ratio,
                   current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age,
                   age(datfrozenxid) > current_setting('autovacuum_freeze_max_age')::bigint AS past_freeze_max_age,
                   round(age(datfrozenxid)::numeric / current_setting('autovacuum_freeze_max_age')::bigint, 4) AS freeze_ratio
            FROM pg_database ORDER BY 2 DESC
            """, rowCap: limits.rowCap, statementTimeout: limits.statementTimeout).rows
        let overall = try await session.readRow("""
            SELECT (\(horizonHolder())) AS oldest_snapshot,
                   (SELECT coalesce(json_agg(oldest), '[]') FROM (
                        SELECT \(tableName()) AS table, age(c.relfrozenxid) AS xid_age
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.relkind = 'r'
                        ORDER BY age(c.relfrozenxid) DESC, n.nspname IN ('pg_catalog', 'information_schema'), 1 LIMIT 3) oldest)
                       AS oldest_frozen_tables
            """, statementTimeout: limits.statementTimeout)
        return .object(["tables": .array(tables), "wraparound": .array(wraparound),
                        "oldest_snapshot": overall["oldest_snapshot"] ?? .null,
                        "oldest_frozen_tables": overall["oldest_frozen_tables"] ?? .array([])])
    }

    /// The 10 tables whose rows sequential scans read most, with how often indexes were used instead
    /// (`seq_share`: sequential scans among all scans) and how many indexes the table has.
    static let tableStats: Body = { session, _, limits in
        let (rows, truncated) = try await session.readRows("""
            SELECT \(tableName(schema: "s.schemaname", name: "s.relname")) AS table, s.schemaname AS schema, s.relname AS name,
                   s.seq_scan, s.seq_tup_read, s.idx_scan, s.n_live_tup AS live_tuples,
                   sizes.bytes, pg_size_pretty(sizes.bytes) AS size,
                   round(s.seq_scan::numeric / nullif(s.seq_scan + coalesce(s.idx_scan, 0), 0), 4) AS seq_share,
                   (SELECT count(*) FROM pg_index i WHERE i.indrelid = s.relid) AS indexes
            FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
            LEFT JOIN LATERAL (SELECT pg_total_relation_size(c.oid) AS bytes WHERE \(notExclusivelyLocked)) sizes ON true
            ORDER BY s.seq_tup_read DESC, 1
            """, rowCap: min(limits.rowCap, 10), statementTimeout: limits.statementTimeout)
        return .object(["tables": .array(rows), "truncated": .bool(truncated)])
    }
}
