import HelpdeskAgents
import HelpdeskCore
import PostgresNIO

/// The tools that act on one session by PID (cancel, terminate), and the pin that ties an
/// approved call to the session it was approved for.
///
/// A PID names a session only while it lives: PostgreSQL reuses PIDs, so an approval for PID 4242
/// must not end whatever session holds 4242 an hour later. The pin records `backend_start`
/// (unique per PID together with it) and the write runs only where both still match, in one
/// statement, so nothing can slip in between the check and the act.
extension DatabaseTools {
    static let sessionTools: Set<String> = ["cancel_query", "terminate_backend"]

    /// Argument added by ``pin(_:_:limits:)`` → the column of ``currentSession`` it comes from.
    /// Only `backend_start` is checked; the rest tells approvers what they are ending.
    static let pinnedDescriptions: [(argument: String, column: String)] = [
        ("session_user", "user"), ("session_application", "application"), ("session_client", "client"),
        ("session_state", "state"), ("session_query_start", "query_start"), ("session_query", "query"),
    ]

    static let sessionParameters: [ToolParameter] = [
        ToolParameter("pid", .integer, required: true, "the backend PID"),
        ToolParameter("backend_start", .string,
                      "when the session started (set when the request is pinned): the call acts only if the PID still has it"),
        ToolParameter("session_user", .string, "the session's user when the request was pinned"),
        ToolParameter("session_application", .string, "the session's application_name when the request was pinned"),
        ToolParameter("session_client", .string, "the session's client address when the request was pinned"),
        ToolParameter("session_state", .string, "the session's state when the request was pinned"),
        ToolParameter("session_query_start", .string, "when the session's current or last statement started, when pinned"),
        ToolParameter("session_query", .string, "the first 200 characters of that statement, when pinned"),
    ]

    /// `call` with the identity of the session its PID names now, read from `pg_stat_activity`.
    /// A call already pinned is checked instead: it keeps its `backend_start` only if that is still current.
    static func pin(_ session: PostgresSession, _ call: ToolCall, limits: Limits) async throws -> ToolCall {
        let pid = Int(call.integer("pid") ?? 0)
        let current = try await currentSession(session, pid: pid, pinnedStart: pinnedStart(call), limits: limits)
        var pinned = call
        pinned.arguments["backend_start"] = current["backend_start"]
        for (argument, column) in pinnedDescriptions {
            if case .string(let text)? = current[column], !text.isEmpty {
                pinned.arguments[argument] = .string(text)
            } else {
                pinned.arguments[argument] = nil
            }
        }
        return pinned
    }

    /// What ending the session `call` names would touch, read in one statement:
    ///
    /// - `age`: how long, in whole seconds, its transaction has been open with writes (`backend_xid`
    ///   is set once it has written), about as long as rolling it back may take; 0 when it has not
    ///   written or is not in a transaction. `nil` when there is no such session (for a pinned call:
    ///   when the PID no longer has the pinned `backend_start`), or when this user may not see it
    ///   (PostgreSQL then shows `backend_start` and `backend_xid` as NULL, and a 0 there would let a
    ///   limit pass unmeasured).
    /// - `session`: the session for approvers — who, what, how long, and whom it blocks, directly or
    ///   behind another waiter (a row-lock queue waits on its head, the head on the blocker).
    ///   `nil` when there is no such session; fields this user may not see are `nil`.
    ///   Not yet redacted: the agent has no redactor, governance redacts it (``SessionEvidence/redacted(by:)``).
    static func sessionImpact(_ session: PostgresSession, _ call: ToolCall,
                              limits: Limits) async throws -> (age: Int?, session: SessionEvidence?) {
        let pid = Int(call.integer("pid") ?? 0)
        let pinned = pinnedStart(call)
        let matches = pinned == nil ? "" : " AND a.backend_start = $2::timestamptz"
        let binds: [any PostgresEncodable] = pinned.map { [pid, $0] } ?? [pid]
        // Twice the characters shown: redaction runs on more than is kept, so a secret across the cut is still seen whole.
        let row = try await session.readRow("""
            WITH RECURSIVE edges AS (
                SELECT w.pid AS waiter, unnest(pg_blocking_pids(w.pid)) AS blocker FROM pg_stat_activity w),
            blocked AS (
                SELECT waiter FROM edges WHERE blocker = $1::integer
                UNION SELECT e.waiter FROM blocked b JOIN edges e ON e.blocker = b.waiter)
            SELECT a.pid,
                   CASE WHEN a.backend_start IS NULL THEN NULL
                        WHEN a.backend_xid IS NOT NULL THEN greatest(0, floor(extract(epoch FROM now() - a.xact_start)))::bigint
                        ELSE 0 END AS age,
                   a.usename AS user, a.application_name AS application, host(a.client_addr) AS client, a.state,
                   a.wait_event_type, a.wait_event, left(a.query, \(SessionEvidence.queryLimit * 2)) AS query,
                   greatest(0, floor(extract(epoch FROM now() - a.xact_start)))::bigint AS transaction_seconds,
                   CASE WHEN a.backend_start IS NULL THEN NULL ELSE a.backend_xid IS NOT NULL END AS has_written,
                   greatest(0, floor(extract(epoch FROM now() - a.query_start)))::bigint AS query_seconds,
                   (SELECT count(*) FROM blocked WHERE waiter <> a.pid) AS blocked_count,
                   (SELECT count(DISTINCT waiter) FROM edges WHERE blocker = a.pid AND waiter <> a.pid) AS blocked_directly,
                   (SELECT coalesce(json_agg(waiter ORDER BY waiter), '[]') FROM (
                       SELECT waiter FROM blocked WHERE waiter <> a.pid ORDER BY waiter LIMIT \(SessionEvidence.blockedListLimit)) AS shown
                   ) AS blocked_pids
            FROM pg_stat_activity a WHERE a.pid = $1::integer\(matches)
            """, binds, statementTimeout: limits.statementTimeout)
        guard row != .null else { return (nil, nil) }
        var age: Int?
        if case .number(let value)? = row["age"] { age = Int(value) }
        return (age, sessionEvidence(row, pid: pid))
    }

    /// The evidence in a row of ``sessionImpact(_:_:limits:)``.
    static func sessionEvidence(_ row: JSONValue, pid: Int) -> SessionEvidence {
        func text(_ key: String) -> String? {
            guard case .string(let value)? = row[key], !value.isEmpty else { return nil }
            return value
        }
        func integer(_ key: String) -> Int? {
            guard case .number(let value)? = row[key], value.isFinite else { return nil }
            return Int(value)
        }
        let blocked = (row["blocked_pids"]?.arrayValue ?? []).compactMap { item -> Int? in
            guard case .number(let value) = item, value.isFinite else { return nil }
            return Int(value)
        }
        var hasWritten: Bool?
        if case .bool(let written)? = row["has_written"] { hasWritten = written }
        return SessionEvidence(pid: integer("pid") ?? pid, user: text("user"), application: text("application"), client: text("client"),
                               state: text("state"), waitEventType: text("wait_event_type"), waitEvent: text("wait_event"),
                               query: text("query"), transactionAgeSeconds: integer("transaction_seconds"), transactionHasWritten: hasWritten,
                               queryAgeSeconds: integer("query_seconds"), blockedCount: integer("blocked_count") ?? blocked.count,
                               blockedDirectly: integer("blocked_directly") ?? 0, blockedPIDs: blocked)
    }

    static let cancelQuery: Body = { session, call, limits in
        let pid = Int(call.integer("pid") ?? 0)
        let result = try await act(session, call, limits: limits,
                                   function: "pg_cancel_backend(pid)", alias: "cancelled", timeout: limits.statementTimeout)
        return .object(["pid": .number(Double(pid)), "cancelled": result.row["cancelled"] ?? .bool(false), "session": result.before])
    }

    static let terminateBackend: Body = { session, call, limits in
        let pid = Int(call.integer("pid") ?? 0)
        // With a timeout, PostgreSQL waits until the backend has actually exited (PostgreSQL 14+).
        let waitMilliseconds = Int(min(limits.statementTimeout.nanoseconds / 1_000_000, 5000))
        let result = try await act(session, call, limits: limits, function: "pg_terminate_backend(pid, \(waitMilliseconds)::bigint)",
                                   alias: "terminated", timeout: limits.statementTimeout + .seconds(1))
        return .object(["pid": .number(Double(pid)), "terminated": result.row["terminated"] ?? .bool(false), "session": result.before])
    }

    /// Runs `function` on the call's PID, only while the PID still has the pinned `backend_start`
    /// when there is one, and returns its row with the session as it was right before.
    private static func act(_ session: PostgresSession, _ call: ToolCall, limits: Limits, function: String, alias: String,
                            timeout: Duration) async throws -> (row: JSONValue, before: JSONValue) {
        let pid = Int(call.integer("pid") ?? 0)
        let pinned = pinnedStart(call)
        let before = try await currentSession(session, pid: pid, pinnedStart: pinned, limits: limits)
        let row: JSONValue
        if let pinned {
            row = try await session.writeRow("""
                SELECT \(function) AS \(alias) FROM pg_stat_activity
                WHERE pid = $1::integer AND backend_start = $2::timestamptz
                """, [pid, pinned], statementTimeout: timeout)
        } else {
            row = try await session.writeRow("SELECT \(function) AS \(alias) FROM (SELECT $1::integer AS pid) AS target",
                                             [pid], statementTimeout: timeout)
        }
        guard row != .null else {
            // The session ended or was replaced between the read above and the write: say which.
            _ = try await currentSession(session, pid: pid, pinnedStart: pinned, limits: limits)
            throw ToolError("the session with PID \(pid) changed while the call ran: nothing done")
        }
        return (row, before)
    }

    private static func pinnedStart(_ call: ToolCall) -> String? {
        guard case .string(let text)? = call.arguments["backend_start"], !text.isEmpty else { return nil }
        return text
    }

    /// The session `pid` names now. Throws when there is none, when it is not a client session,
    /// or when `pinnedStart` is given and the PID now belongs to a session started at another time.
    private static func currentSession(_ session: PostgresSession, pid: Int, pinnedStart: String?,
                                       limits: Limits) async throws -> JSONValue {
        let matches = pinnedStart == nil ? "NULL::boolean" : "backend_start = $2::timestamptz"
        let binds: [any PostgresEncodable] = pinnedStart.map { [pid, $0] } ?? [pid]
        let row = try await session.readRow("""
            SELECT pid, backend_start, usename AS user, application_name AS application, host(client_addr) AS client,
                   state, query_start, left(query, 200) AS query, backend_type, pid = pg_backend_pid() AS is_self,
                   \(matches) AS is_pinned
            FROM pg_stat_activity WHERE pid = $1::integer
            """, binds, statementTimeout: limits.statementTimeout)
        guard row != .null else {
            if let pinnedStart {
                throw ToolError("no session has PID \(pid) on \(session.targetID) any more; "
                                + "the approved session (started \(pinnedStart)) has ended: nothing done")
            }
            throw ToolError("no session has PID \(pid) on \(session.targetID); it may have ended already")
        }
        if let pinnedStart, row["is_pinned"] != .bool(true) {
            let started = row["backend_start"]?.description ?? "at an unknown time"
            var who = ""
            if case .string(let user)? = row["user"] { who += ", user \(user)" }
            if case .string(let application)? = row["application"], !application.isEmpty { who += ", application \"\(application)\"" }
            throw ToolError("PID \(pid) now belongs to another session (started \(started)\(who)); "
                            + "the approved session (started \(pinnedStart)) has ended: nothing done")
        }
        guard row["backend_type"] == .string("client backend"), row["is_self"] != .bool(true) else {
            throw ToolError("PID \(pid) is a \(row["backend_type"]?.description ?? "server") process, not a client session; refusing")
        }
        var described = row
        if case .object(var fields) = described {
            fields["is_pinned"] = nil
            fields["is_self"] = nil
            described = .object(fields)
        }
        return described
    }
}
