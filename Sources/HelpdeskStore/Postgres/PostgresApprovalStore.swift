import Foundation
import HelpdeskCore
import Logging
import PostgresNIO

/// Approvals in ``PostgresStore``: the twin of ``SQLiteApprovalStore``. Where SQLite's single writer
/// makes read-then-write decisions safe, a row lock (`FOR UPDATE`) or a conditional UPDATE does here,
/// so replicas deciding the same request at once count every vote and decide it once.
struct PostgresApprovalStore: ApprovalStore {
    let store: PostgresStore

    /// A statement that writes a row and returns it came back empty.
    struct MissingRow: Error, CustomStringConvertible {
        let id: String
        var description: String { "PostgreSQL returned no row for approval \(id) right after writing it" }
    }

    func create(_ approval: NewApproval, audit: [AuditDraft]) async throws -> ApprovalRecord {
        let logger = store.logger
        let chain = store.auditChain
        return try await store.transaction { connection -> ApprovalRecord in
            let rows = try await connection.rows("""
                INSERT INTO approvals (id, created_at, expires_at, requester, request, decision, quorum, status)
                VALUES (\(approval.id), \(approval.createdAt.timeIntervalSince1970), \(approval.expiresAt.timeIntervalSince1970),
                        \(approval.requester), \(approval.request.jsonText), \(approval.decision.jsonText), \(approval.quorum), 'pending')
                RETURNING \(unescaped: Self.columns("approvals")), \(unescaped: Self.noVote)
                """, logger)
            guard let record = try Self.records(rows).first else { throw MissingRow(id: approval.id) }
            try await PostgresAuditAppend.append(audit, on: connection, now: approval.createdAt, chain: chain, logger: logger)
            return record
        }
    }

    func vote(id: String, principal: String, choice: ApprovalVote.Choice, reason: String?, via: String, now: Date, execute: NewJob,
              qualifies: @escaping @Sendable (String) -> Bool) async throws -> VoteOutcome {
        let store = self.store
        let logger = store.logger
        let chain = store.auditChain
        let outcome = try await store.transaction { connection -> VoteOutcome in
            // The row lock makes votes on one request take turns across replicas: the second waits for the
            // first to commit, then reads its vote below (a new statement, a new snapshot), so both count
            // and only the vote that reaches the quorum approves. Votes are read after the lock for that reason.
            guard try await connection.row("SELECT id FROM approvals WHERE id = \(id) FOR UPDATE", logger) != nil else { return .notFound }
            guard let current = try await Self.fetch(on: connection, id: id, logger: logger) else { return .notFound }
            guard current.status == .pending else { return .alreadyDecided(current) }
            let seconds = now.timeIntervalSince1970
            if now >= current.expiresAt {
                try await connection.run("""
                    UPDATE approvals SET status = 'expired', decided_at = \(seconds) WHERE id = \(id) AND status = 'pending'
                    """, logger)
                try await PostgresAuditAppend.append([Self.expiredDraft(current)], on: connection, now: now, chain: chain, logger: logger)
                guard let expired = try await Self.fetch(on: connection, id: id, logger: logger) else { throw MissingRow(id: id) }
                return .expired(expired)
            }
            if current.votes.contains(where: { $0.principal == principal }) { return .alreadyVoted(current) }
            try await connection.run("""
                INSERT INTO approval_votes (approval_id, principal, vote, reason, at, via)
                VALUES (\(id), \(principal), \(choice.rawValue), \(reason), \(seconds), \(via))
                """, logger)
            var audit = [AuditDraft(kind: "approval_vote", principal: principal, target: id,
                                    data: .object(["vote": .string(choice.rawValue), "reason": reason.map(JSONValue.string) ?? .null,
                                                   "via": .string(via)]))]
            let approvals = current.votes.filter { $0.vote == .approve && qualifies($0.principal) }.count + (choice == .approve ? 1 : 0)
            var record = current
            record.votes = Self.ordered(current.votes + [ApprovalVote(principal: principal, vote: choice, reason: reason,
                                                                      at: Date(timeIntervalSince1970: seconds), via: via)])
            let result: VoteOutcome
            if choice == .deny {
                try await connection.run("""
                    UPDATE approvals SET status = 'denied', decided_at = \(seconds), decided_by = \(principal) WHERE id = \(id)
                    """, logger)
                audit.append(AuditDraft(kind: "approval_decided", principal: principal, target: id,
                                        data: .object(["status": .string("denied")])))
                record.status = .denied
                record.decidedAt = Date(timeIntervalSince1970: seconds)
                record.decidedBy = principal
                result = .denied(record)
            } else if approvals >= current.quorum {
                try await connection.run("""
                    UPDATE approvals SET status = 'approved', decided_at = \(seconds), decided_by = \(principal), execution = 'queued'
                    WHERE id = \(id)
                    """, logger)
                _ = try await PostgresChangeSets.apply(ChangeSet(jobs: [execute]), on: connection, now: now, store: store)
                audit.append(AuditDraft(kind: "approval_decided", principal: principal, target: id,
                                        data: .object(["status": .string("approved"), "approvals": .number(Double(approvals))])))
                record.status = .approved
                record.decidedAt = Date(timeIntervalSince1970: seconds)
                record.decidedBy = principal
                record.execution = "queued"
                result = .approved(record)
            } else {
                result = .recorded(record)
            }
            try await PostgresAuditAppend.append(audit, on: connection, now: now, chain: chain, logger: logger)
            return result
        }
        if case .approved = outcome { store.workSignal.signal() }
        return outcome
    }

    func expire(now: Date) async throws -> [ApprovalRecord] {
        let seconds = now.timeIntervalSince1970
        let logger = store.logger
        let chain = store.auditChain
        // Swept every few seconds by every replica: a sweep with nothing due only reads.
        let anyDue = try await store.read { connection in
            try await connection.row("""
                SELECT 1 FROM approvals WHERE status = 'pending' AND expires_at <= \(seconds) LIMIT 1
                """, logger) != nil
        }
        guard anyDue else { return [] }
        return try await store.transaction { connection -> [ApprovalRecord] in
            // SKIP LOCKED: a request another replica's sweep (or a vote) holds is theirs to decide, so two sweeps
            // never wait on each other's rows (no deadlock) and each request is expired, audited and returned once.
            // The votes joined below are stable: adding one needs the row lock this statement holds.
            let rows = try await connection.rows("""
                WITH due AS (
                    SELECT id FROM approvals WHERE status = 'pending' AND expires_at <= \(seconds) ORDER BY id FOR UPDATE SKIP LOCKED
                ), expired AS (
                    UPDATE approvals a SET status = 'expired', decided_at = \(seconds) FROM due WHERE a.id = due.id AND a.status = 'pending'
                    RETURNING \(unescaped: Self.columns("a"))
                )
                SELECT \(unescaped: Self.columns("expired")), \(unescaped: Self.voteColumns("v"))
                FROM expired LEFT JOIN approval_votes v ON v.approval_id = expired.id
                ORDER BY expired.expires_at, expired.id, v.at, v.principal COLLATE "C"
                """, logger)
            let expired = try Self.records(rows)
            try await PostgresAuditAppend.append(expired.map(Self.expiredDraft), on: connection, now: now, chain: chain, logger: logger)
            return expired
        }
    }

    func claimExecution(id: String, now: Date) async throws -> ApprovalRecord? {
        let logger = store.logger
        // One conditional UPDATE: of replicas claiming together, exactly one gets the row back.
        return try await store.transaction { connection -> ApprovalRecord? in
            let rows = try await connection.rows("""
                WITH claimed AS (
                    UPDATE approvals SET execution = 'running' WHERE id = \(id) AND status = 'approved' AND execution = 'queued'
                    RETURNING \(unescaped: Self.columns("approvals"))
                )
                SELECT \(unescaped: Self.columns("claimed")), \(unescaped: Self.voteColumns("v"))
                FROM claimed LEFT JOIN approval_votes v ON v.approval_id = claimed.id
                ORDER BY v.at, v.principal COLLATE "C"
                """, logger)
            return try Self.records(rows).first
        }
    }

    func finishExecution(id: String, succeeded: Bool, result: JSONValue, now: Date) async throws {
        let logger = store.logger
        let execution = succeeded ? "succeeded" : "failed"
        try await store.transaction { connection in
            try await connection.run("""
                UPDATE approvals SET execution = \(execution), result = \(result.jsonText),
                    executed_at = \(now.timeIntervalSince1970)
                WHERE id = \(id) AND execution = 'running'
                """, logger)
        }
    }

    func reopen(id: String, quorum: Int, decision: JSONValue, expiresAt: Date, now: Date,
                audit: [AuditDraft]) async throws -> ApprovalRecord? {
        let logger = store.logger
        let chain = store.auditChain
        return try await store.transaction { connection -> ApprovalRecord? in
            let reopened = try await connection.row("""
                UPDATE approvals SET status = 'pending', execution = NULL, decided_at = NULL, decided_by = NULL,
                    quorum = \(quorum), decision = \(decision.jsonText), expires_at = \(expiresAt.timeIntervalSince1970)
                WHERE id = \(id) AND status = 'approved' AND execution = 'running'
                RETURNING id
                """, logger)
            guard reopened != nil else { return nil }
            try await PostgresAuditAppend.append(audit, on: connection, now: now, chain: chain, logger: logger)
            return try await Self.fetch(on: connection, id: id, logger: logger)
        }
    }

    func approval(id: String) async throws -> ApprovalRecord? {
        let logger = store.logger
        return try await store.read { connection in try await Self.fetch(on: connection, id: id, logger: logger) }
    }

    func list(status: ApprovalStatus?, limit: Int) async throws -> [ApprovalRecord] {
        let logger = store.logger
        let limit: Int? = limit < 0 ? nil : limit  // SQLite's negative LIMIT means none; PostgreSQL's is NULL
        return try await store.read { connection -> [ApprovalRecord] in
            let rows = try await connection.rows("""
                WITH page AS (
                    SELECT \(unescaped: Self.columns("approvals")) FROM approvals
                    WHERE \(status?.rawValue)::text IS NULL OR status = \(status?.rawValue)
                    ORDER BY created_at DESC LIMIT \(limit)
                )
                SELECT \(unescaped: Self.columns("page")), \(unescaped: Self.voteColumns("v"))
                FROM page LEFT JOIN approval_votes v ON v.approval_id = page.id
                ORDER BY page.created_at DESC, page.id, v.at, v.principal COLLATE "C"
                """, logger)
            return try Self.records(rows)
        }
    }

    // MARK: - Rows

    static let approvalColumnNames = ["id", "created_at", "expires_at", "requester", "request", "decision", "quorum", "status",
                                      "decided_at", "decided_by", "execution", "result", "executed_at"]

    /// `t.id, t.created_at, …`: constant text for a table or CTE name given as a literal.
    static func columns(_ table: String) -> String {
        approvalColumnNames.map { "\(table).\($0)" }.joined(separator: ", ")
    }

    /// A vote's columns, renamed so they cannot clash with the approval's.
    static func voteColumns(_ table: String) -> String {
        "\(table).principal AS vote_principal, \(table).vote AS vote_choice, \(table).reason AS vote_reason, " +
            "\(table).at AS vote_at, \(table).via AS vote_via"
    }

    /// The vote columns of a request without votes (after an INSERT).
    static let noVote = "NULL::text AS vote_principal, NULL::text AS vote_choice, NULL::text AS vote_reason, " +
        "NULL::double precision AS vote_at, NULL::text AS vote_via"

    /// One request with its votes (in SQLite's order: `at`, then principal byte by byte).
    static func fetch(on connection: PostgresConnection, id: String, logger: Logger) async throws -> ApprovalRecord? {
        let rows = try await connection.rows("""
            SELECT \(unescaped: columns("a")), \(unescaped: voteColumns("v"))
            FROM approvals a LEFT JOIN approval_votes v ON v.approval_id = a.id
            WHERE a.id = \(id)
            ORDER BY v.at, v.principal COLLATE "C"
            """, logger)
        return try records(rows).first
    }

    /// Requests from rows of a request joined with its votes (one row per vote, or one with NULL votes),
    /// each request's rows adjacent, in the rows' order.
    static func records(_ rows: [PostgresRandomAccessRow]) throws -> [ApprovalRecord] {
        var records: [ApprovalRecord] = []
        for row in rows {
            let id = try row["id"].decode(String.self)
            if records.last?.id != id {
                records.append(try record(row, id: id))
            }
            if let voter = try row["vote_principal"].decode(String?.self) {
                let choice = try row["vote_choice"].decode(String?.self)
                records[records.count - 1].votes.append(ApprovalVote(
                    principal: voter, vote: choice.flatMap(ApprovalVote.Choice.init(rawValue:)) ?? .deny,
                    reason: try row["vote_reason"].decode(String?.self),
                    at: Date(timeIntervalSince1970: try row["vote_at"].decode(Double?.self) ?? 0),
                    via: try row["vote_via"].decode(String?.self)))
            }
        }
        return records
    }

    private static func record(_ row: PostgresRandomAccessRow, id: String) throws -> ApprovalRecord {
        ApprovalRecord(
            id: id, createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
            expiresAt: Date(timeIntervalSince1970: try row["expires_at"].decode(Double.self)),
            requester: try row["requester"].decode(String.self),
            request: json(try row["request"].decode(String.self)) ?? .null,
            decision: json(try row["decision"].decode(String.self)) ?? .null,
            quorum: try row["quorum"].decode(Int.self),
            status: ApprovalStatus(rawValue: try row["status"].decode(String.self)) ?? .expired,
            decidedAt: try row["decided_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            decidedBy: try row["decided_by"].decode(String?.self), execution: try row["execution"].decode(String?.self),
            result: try row["result"].decode(String?.self).flatMap(json),
            executedAt: try row["executed_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:)), votes: [])
    }

    /// Stored JSON as SQLite's twin reads it: text that does not parse reads as absent.
    private static func json(_ text: String) -> JSONValue? {
        try? JSONValue(parsing: text)
    }

    /// The order `fetch` reads votes in (`ORDER BY at, principal COLLATE "C"`), for a vote added in memory.
    static func ordered(_ votes: [ApprovalVote]) -> [ApprovalVote] {
        votes.sorted { lhs, rhs in
            lhs.at != rhs.at ? lhs.at < rhs.at : lhs.principal.utf8.lexicographicallyPrecedes(rhs.principal.utf8)
        }
    }

    static func expiredDraft(_ approval: ApprovalRecord) -> AuditDraft {
        AuditDraft(kind: "approval_expired", principal: nil, target: approval.id,
                   data: .object(["expired_at": .string(approval.expiresAt.formatted(.iso8601))]))
    }
}
