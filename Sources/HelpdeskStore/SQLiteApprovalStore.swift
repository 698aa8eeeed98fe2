import Foundation
import GRDB
import HelpdeskCore

/// Approvals in ``SQLiteStore``: each operation one transaction of the group-commit writer.
struct SQLiteApprovalStore: ApprovalStore {
    let store: SQLiteStore

    func create(_ approval: NewApproval, audit: [AuditDraft]) async throws -> ApprovalRecord {
        try await store.writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO approvals (id, created_at, expires_at, requester, request, decision, quorum, status)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')
                    """,
                arguments: [approval.id, approval.createdAt.timeIntervalSince1970, approval.expiresAt.timeIntervalSince1970, approval.requester,
                            approval.request.jsonText, approval.decision.jsonText, approval.quorum])
            try SQLiteAuditLog.append(audit, in: db, now: approval.createdAt)
            return try Self.fetch(db, id: approval.id)!
        }
    }

    func vote(id: String, principal: String, choice: ApprovalVote.Choice, reason: String?, via: String, now: Date, execute: NewJob,
              qualifies: @escaping @Sendable (String) -> Bool) async throws -> VoteOutcome {
        let defaultMaxAttempts = store.defaultMaxAttempts
        let outcome = try await store.writer.write { db -> VoteOutcome in
            guard let current = try Self.fetch(db, id: id) else { return .notFound }
            guard current.status == .pending else { return .alreadyDecided(current) }
            let seconds = now.timeIntervalSince1970
            if now >= current.expiresAt {
                try Self.markExpired(db, [current], now: now)
                return .expired(try Self.fetch(db, id: id)!)
            }
            if current.votes.contains(where: { $0.principal == principal }) { return .alreadyVoted(current) }
            try db.execute(
                sql: "INSERT INTO approval_votes (approval_id, principal, vote, reason, at, via) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [id, principal, choice.rawValue, reason, seconds, via])
            var audit = [AuditDraft(kind: "approval_vote", principal: principal, target: id,
                                    data: .object(["vote": .string(choice.rawValue), "reason": reason.map(JSONValue.string) ?? .null, "via": .string(via)]))]
            let approvals = current.votes.filter { $0.vote == .approve && qualifies($0.principal) }.count + (choice == .approve ? 1 : 0)
            let result: VoteOutcome
            if choice == .deny {
                try db.execute(sql: "UPDATE approvals SET status = 'denied', decided_at = ?, decided_by = ? WHERE id = ?", arguments: [seconds, principal, id])
                audit.append(AuditDraft(kind: "approval_decided", principal: principal, target: id, data: .object(["status": .string("denied")])))
                result = .denied(try Self.fetch(db, id: id)!)
            } else if approvals >= current.quorum {
                try db.execute(sql: "UPDATE approvals SET status = 'approved', decided_at = ?, decided_by = ?, execution = 'queued' WHERE id = ?",
                               arguments: [seconds, principal, id])
                _ = try SQLiteStore.apply(ChangeSet(jobs: [execute]), in: db, now: now, defaultMaxAttempts: defaultMaxAttempts)
                audit.append(AuditDraft(kind: "approval_decided", principal: principal, target: id,
                                        data: .object(["status": .string("approved"), "approvals": .number(Double(approvals))])))
                result = .approved(try Self.fetch(db, id: id)!)
            } else {
                result = .recorded(try Self.fetch(db, id: id)!)
            }
            try SQLiteAuditLog.append(audit, in: db, now: now)
            return result
        }
        if case .approved = outcome { store.workSignal.signal() }
        return outcome
    }

    func expire(now: Date) async throws -> [ApprovalRecord] {
        let anyDue = try await store.database.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM approvals WHERE status = 'pending' AND expires_at <= ?)",
                              arguments: [now.timeIntervalSince1970]) ?? false
        }
        guard anyDue else { return [] }
        return try await store.writer.write { db in
            let due = try Row.fetchAll(db, sql: "SELECT id FROM approvals WHERE status = 'pending' AND expires_at <= ?",
                                       arguments: [now.timeIntervalSince1970]).compactMap { try Self.fetch(db, id: $0["id"]) }
            try Self.markExpired(db, due, now: now)
            return try due.compactMap { try Self.fetch(db, id: $0.id) }
        }
    }

    private static func markExpired(_ db: Database, _ approvals: [ApprovalRecord], now: Date) throws {
        for approval in approvals {
            try db.execute(sql: "UPDATE approvals SET status = 'expired', decided_at = ? WHERE id = ? AND status = 'pending'",
                           arguments: [now.timeIntervalSince1970, approval.id])
        }
        try SQLiteAuditLog.append(approvals.map { AuditDraft(kind: "approval_expired", principal: nil, target: $0.id,
                                                             data: .object(["expired_at": .string($0.expiresAt.formatted(.iso8601))])) },
                                  in: db, now: now)
    }

    func claimExecution(id: String, now: Date) async throws -> ApprovalRecord? {
        try await store.writer.write { db in
            try db.execute(sql: "UPDATE approvals SET execution = 'running' WHERE id = ? AND status = 'approved' AND execution = 'queued'",
                           arguments: [id])
            return db.changesCount == 1 ? try Self.fetch(db, id: id) : nil
        }
    }

    func finishExecution(id: String, succeeded: Bool, result: JSONValue, now: Date) async throws {
        try await store.writer.write { db in
            try db.execute(sql: "UPDATE approvals SET execution = ?, result = ?, executed_at = ? WHERE id = ? AND execution = 'running'",
                           arguments: [succeeded ? "succeeded" : "failed", result.jsonText, now.timeIntervalSince1970, id])
        }
    }

    func reopen(id: String, quorum: Int, decision: JSONValue, expiresAt: Date, now: Date, audit: [AuditDraft]) async throws -> ApprovalRecord? {
        try await store.writer.write { db in
            try db.execute(
                sql: """
                    UPDATE approvals SET status = 'pending', execution = NULL, decided_at = NULL, decided_by = NULL,
                        quorum = ?, decision = ?, expires_at = ? WHERE id = ? AND status = 'approved' AND execution = 'running'
                    """,
                arguments: [quorum, decision.jsonText, expiresAt.timeIntervalSince1970, id])
            guard db.changesCount == 1 else { return nil }
            try SQLiteAuditLog.append(audit, in: db, now: now)
            return try Self.fetch(db, id: id)
        }
    }

    func approval(id: String) async throws -> ApprovalRecord? {
        try await store.database.read { db in try Self.fetch(db, id: id) }
    }

    func list(status: ApprovalStatus?, limit: Int) async throws -> [ApprovalRecord] {
        try await store.database.read { db in
            let ids: [String]
            if let status {
                ids = try String.fetchAll(db, sql: "SELECT id FROM approvals WHERE status = ? ORDER BY created_at DESC LIMIT ?", arguments: [status.rawValue, limit])
            } else {
                ids = try String.fetchAll(db, sql: "SELECT id FROM approvals ORDER BY created_at DESC LIMIT ?", arguments: [limit])
            }
            return try ids.compactMap { try Self.fetch(db, id: $0) }
        }
    }

    static func fetch(_ db: Database, id: String) throws -> ApprovalRecord? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM approvals WHERE id = ?", arguments: [id]) else { return nil }
        let votes = try Row.fetchAll(db, sql: "SELECT * FROM approval_votes WHERE approval_id = ? ORDER BY at, principal", arguments: [id]).map { vote in
            ApprovalVote(principal: vote["principal"], vote: ApprovalVote.Choice(rawValue: vote["vote"]) ?? .deny, reason: vote["reason"],
                         at: Date(timeIntervalSince1970: vote["at"]), via: vote["via"])
        }
        return ApprovalRecord(
            id: row["id"], createdAt: Date(timeIntervalSince1970: row["created_at"]), expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
            requester: row["requester"], request: (try? JSONValue(parsing: row["request"])) ?? .null,
            decision: (try? JSONValue(parsing: row["decision"])) ?? .null, quorum: row["quorum"],
            status: ApprovalStatus(rawValue: row["status"]) ?? .expired,
            decidedAt: (row["decided_at"] as Double?).map(Date.init(timeIntervalSince1970:)), decidedBy: row["decided_by"],
            execution: row["execution"], result: (row["result"] as String?).flatMap { try? JSONValue(parsing: $0) },
            executedAt: (row["executed_at"] as Double?).map(Date.init(timeIntervalSince1970:)), votes: votes)
    }
}
