import Foundation
import GRDB
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing
import Yams

@Suite struct GovernanceTests {
    static let policy = """
        version: "1"
        policies:
          - name: production
            resources: [{type: database, match: {tags: [production]}}]
            rules:
              - {action: read, effect: allow}
              - {action: write, effect: deny, message: no writes here}
              - action: destructive
                effect: require_approval
                conditions: {approval_quorum: 2, approvers: [role:dba], approval_ttl: 30m}
        """

    /// Governance over a store of `kind`: a fresh one, or the one at `reopening` opened again (a restart).
    struct Harness: Sendable {
        let folder: TemporaryDirectory
        let location: TemporaryStoreLocation
        let store: any Store
        let agent: FakeAgent
        let governance: Governance

        init(_ kind: StoreKind, reopening earlier: TemporaryStoreLocation? = nil) async throws {
            let folder = try TemporaryDirectory()
            let location: TemporaryStoreLocation
            if let earlier { location = earlier } else { location = try await .fresh(kind, in: folder) }
            self.folder = folder
            self.location = location
            store = try await location.open()
            agent = FakeAgent(
                tools: [FakeAgent.read("connection_stats"),
                        ToolDescriptor(name: "cancel_query", agent: "database", action: .write, summary: "", parameters: [ToolParameter("pid", .integer, "pid")]),
                        ToolDescriptor(name: "terminate_backend", agent: "database", action: .destructive, summary: "",
                                       parameters: [ToolParameter("pid", .integer, required: true, "pid")])],
                answers: ["connection_stats": .output(.object(["total": .number(3)])),
                          "terminate_backend": .output(.object(["terminated": .bool(true)]))])
            var inventory = Infrastructure()
            inventory.dbServers = [.init(id: "prod-db", connectionString: "host=x", tags: ["production"])]
            var directory = UserDirectory()
            directory.users = [.init(name: "alice", roles: ["dba"]), .init(name: "carol", roles: ["dba"]), .init(name: "dave", roles: ["dba"]),
                               .init(name: "bob", roles: ["developer"])] + (0..<12).map { .init(name: "dba\($0)", roles: ["dba"]) }
            let policies = PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: GovernanceTests.policy).policies))
            governance = Governance(policies: policies, store: store, agents: [agent], inventory: inventory, directory: directory,
                                    redactor: Redactor(), defaultTTL: .seconds(3600), toolTimeout: .seconds(5),
                                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        }

        func requestTermination(by name: String = "bob") async throws -> ApprovalRecord {
            let outcome = try await governance.request(ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(4242)]),
                                                      by: governance.principal(named: name), via: "test")
            guard case .pendingApproval(let record, _) = outcome else { throw ToolError("expected a pending approval, got \(outcome)") }
            return record
        }
    }

    @Test(arguments: StoreKind.allCases)
    func readsRunWritesAreDeniedDestructiveNeedsApproval(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        defer { harness.folder.remove() }
        let read = try await harness.governance.request(ToolCall(tool: "connection_stats", target: "prod-db"), by: Principal(id: "bob"), via: "test")
        guard case .ran(let output, _) = read else { Issue.record("read should run"); return }
        #expect(output["total"] == .number(3))
        let write = try await harness.governance.request(ToolCall(tool: "cancel_query", target: "prod-db", arguments: ["pid": .number(1)]),
                                                        by: Principal(id: "bob"), via: "test")
        guard case .denied(let decision) = write else { Issue.record("write should be denied"); return }
        #expect(decision.message == "no writes here")
        let record = try await harness.requestTermination()
        #expect(record.status == .pending && record.quorum == 2)
        #expect(record.id.hasPrefix("apr_"))
        #expect(harness.agent.received.map(\.tool) == ["connection_stats"], "nothing but the read ran")
        try await harness.store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func quorumOfDistinctAllowedApproversThenExactlyOneExecution(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        defer { harness.folder.remove() }
        let record = try await harness.requestTermination(by: "alice")
        let governance = harness.governance
        #expect(try await governance.vote(on: record.id, by: governance.principal(named: "alice"), approve: true, reason: nil, via: "test")
            == .refused("alice asked for \(record.id) and cannot decide it; another approver must"))
        if case .refused(let why) = try await governance.vote(on: record.id, by: governance.principal(named: "bob"), approve: true, reason: nil, via: "test") {
            #expect(why.contains("not among the approvers"))
        } else { Issue.record("a developer is not an approver") }
        #expect(try await governance.vote(on: record.id, by: .anonymous, approve: true, reason: nil, via: "test")
            == .refused("only known users may decide approval requests; ask an administrator to add you under users:"))
        guard case .recorded(_, let remaining) = try await governance.vote(on: record.id, by: governance.principal(named: "carol"), approve: true, reason: "ok", via: "test") else {
            Issue.record("first approval should be recorded"); return
        }
        #expect(remaining == 1)
        #expect(try await governance.vote(on: record.id, by: governance.principal(named: "carol"), approve: true, reason: nil, via: "test")
            == .refused("carol has already voted on \(record.id); each approver counts once"))
        guard case .approved = try await governance.vote(on: record.id, by: governance.principal(named: "dave"), approve: true, reason: nil, via: "test") else {
            Issue.record("second distinct approval completes the quorum"); return
        }
        let jobs = try await harness.store.jobs.list(state: .queued, limit: 10)
        #expect(jobs.map(\.kind) == [Governance.executeJobKind])
        // Run the execution twice at once: one runs the tool, the other finds nothing to run.
        async let first = governance.executeApproved(record.id)
        async let second = governance.executeApproved(record.id)
        _ = try await (first, second)
        #expect(harness.agent.received.filter { $0.tool == "terminate_backend" } == [ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(4242)])])
        let done = try #require(try await harness.store.approvals.approval(id: record.id))
        #expect(done.execution == "succeeded")
        #expect(done.result?["terminated"] == .bool(true))
        if case .alreadyDecided(let decided) = try await governance.vote(on: record.id, by: governance.principal(named: "alice"), approve: false, reason: nil, via: "test") {
            #expect(decided.decidedBy == "dave")
        } else { Issue.record("a decided request answers already decided") }
        try await harness.store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func oneDenyFromAnApproverDenies(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        defer { harness.folder.remove() }
        let record = try await harness.requestTermination()
        let governance = harness.governance
        _ = try await governance.vote(on: record.id, by: governance.principal(named: "carol"), approve: true, reason: nil, via: "test")
        guard case .denied(let denied) = try await governance.vote(on: record.id, by: governance.principal(named: "dave"), approve: false, reason: "not now", via: "test") else {
            Issue.record("a deny denies"); return
        }
        #expect(denied.status == .denied && denied.decidedBy == "dave")
        #expect(try await harness.store.jobs.list(state: nil, limit: 10).isEmpty, "nothing to run")
        try await harness.store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func expiredRequestsFailClosed(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        defer { harness.folder.remove() }
        let record = try await harness.requestTermination()
        let expired = try await harness.store.approvals.expire(now: record.expiresAt.addingTimeInterval(1))
        #expect(expired.map(\.id) == [record.id])
        guard case .alreadyDecided(let after) = try await harness.governance.vote(on: record.id, by: harness.governance.principal(named: "carol"), approve: true, reason: nil, via: "test") else {
            Issue.record("an expired request takes no votes"); return
        }
        #expect(after.status == .expired)
        try await harness.store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentApprovalsProduceOneApprovalAndOneJob(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        defer { harness.folder.remove() }
        let record = try await harness.requestTermination()
        var users: [Principal] = []
        for index in 0..<12 { users.append(Principal(id: "dba\(index)", roles: ["dba"])) }
        let results = await withTaskGroup(of: VoteResult?.self) { group in
            for user in users {
                group.addTask { try? await harness.governance.vote(on: record.id, by: user, approve: true, reason: nil, via: "test") }
            }
            var all: [VoteResult?] = []
            for await result in group { all.append(result) }
            return all
        }
        let approvedCount = results.filter { if case .approved? = $0 { true } else { false } }.count
        #expect(approvedCount == 1)
        #expect(try await harness.store.jobs.list(state: nil, limit: 10).count == 1)
        try await harness.store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func approvalStateSurvivesARestart(kind: StoreKind) async throws {
        let first = try await Harness(kind)
        defer { first.folder.remove() }
        let record = try await first.requestTermination()
        _ = try await first.governance.vote(on: record.id, by: first.governance.principal(named: "carol"), approve: true, reason: nil, via: "test")
        try await first.store.close()
        let second = try await Harness(kind, reopening: first.location)
        defer { second.folder.remove() }
        guard case .approved = try await second.governance.vote(on: record.id, by: second.governance.principal(named: "dave"), approve: true, reason: nil, via: "test") else {
            Issue.record("the vote before the restart still counts"); return
        }
        try await second.store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func auditChainVerifiesAndFindsEveryKindOfTampering(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        defer { harness.folder.remove() }
        _ = try await harness.requestTermination()
        _ = try await harness.governance.request(ToolCall(tool: "connection_stats", target: "prod-db"), by: Principal(id: "bob"), via: "test")
        _ = try await harness.governance.request(ToolCall(tool: "cancel_query", target: "prod-db"), by: Principal(id: "bob"), via: "test")
        let verified = try await harness.store.audit.verify()
        #expect(verified.ok)
        #expect(verified.checked == 5, "decision + approval_created, decision + tool_call, decision")
        try await harness.store.close()
        if case .postgres(let endpoint) = harness.location {
            try await TemporaryPostgres.execute("CREATE TABLE audit_untouched AS SELECT * FROM audit_events", in: endpoint)
        }

        /// Each kind of tampering starts from the untouched log: a copy of the SQLite file, or the
        /// PostgreSQL table put back as it was; a store opened on it then verifies.
        func tampered(_ sql: String) async throws -> AuditVerification {
            switch harness.location {
            case .sqlite(let path):
                let copy = harness.folder.file("copy-\(UUID().uuidString).sqlite")
                for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                    try FileManager.default.copyItem(atPath: path + suffix, toPath: copy + suffix)
                }
                try await DatabaseQueue(path: copy).write { db in try db.execute(sql: sql) }
                let store = try SQLiteStore(options: .init(path: copy))
                defer { Task { try? await store.close() } }
                return try await store.audit.verify()
            case .postgres(let endpoint):
                try await TemporaryPostgres.execute("""
                    DELETE FROM audit_events; INSERT INTO audit_events SELECT * FROM audit_untouched;
                    \(sql)
                    """, in: endpoint)
                let store = try await harness.location.open()
                defer { Task { try? await store.close() } }
                return try await store.audit.verify()
            }
        }
        let edited = try await tampered("UPDATE audit_events SET principal = 'eve' WHERE seq = 3")
        #expect(edited.brokenAt == 3 && edited.problem?.contains("edited") == true)
        let deleted = try await tampered("DELETE FROM audit_events WHERE seq = 2")
        #expect(deleted.brokenAt == 3 && deleted.problem?.contains("missing") == true)
        let inserted = try await tampered("""
            UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3;
            INSERT INTO audit_events (seq, id, at_us, kind, principal, target, data, prev_hash, hash)
                SELECT 3, 'evt_forged', at_us, kind, principal, target, data, prev_hash, hash FROM audit_events WHERE seq = 2;
            UPDATE audit_events SET seq = seq - 99 WHERE seq >= 103;
            """)
        #expect(inserted.ok == false && inserted.brokenAt == 3)
        let reordered = try await tampered("""
            UPDATE audit_events SET seq = -1 WHERE seq = 2; UPDATE audit_events SET seq = 2 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = -1;
            """)
        #expect(reordered.ok == false && reordered.brokenAt == 2)
    }
}
