import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing
import Yams

/// A database's `approval_override_roles` (aiHelpDesk's inventory key): when a rule that needs
/// approval names no approvers, those roles decide; a rule's own approvers win.
@Suite struct ApprovalOverrideRolesTests {
    static let policy = """
        version: "1"
        policies:
          - name: ledger
            resources: [{type: database}, {type: kubernetes}]
            rules:
              - {action: read, effect: allow}
              - {action: write, effect: require_approval}
              - action: destructive
                effect: require_approval
                conditions: {approvers: [role:dba]}
        """

    static func governance(_ store: any Store) throws -> Governance {
        let database = FakeAgent(tools: [
            ToolDescriptor(name: "cancel_query", agent: "database", action: .write, summary: "", parameters: [ToolParameter("pid", .integer, "pid")]),
            ToolDescriptor(name: "terminate_backend", agent: "database", action: .destructive, summary: "",
                           parameters: [ToolParameter("pid", .integer, "pid")]),
        ], answers: [:])
        let kubernetes = FakeAgent(name: "kubernetes", tools: [
            ToolDescriptor(name: "rollout_restart", agent: "kubernetes", action: .write, summary: "", parameters: [ToolParameter("name", .string, "name")]),
        ], answers: [:])
        var inventory = Infrastructure()
        inventory.k8sClusters = [.init(id: "apps-k8s")]
        inventory.dbServers = [
            .init(id: "ledger-db", connectionString: "host=x", k8sCluster: "apps-k8s", approvalOverrideRoles: ["dba-lead", "oncall-senior"]),
            .init(id: "scratch-db", connectionString: "host=y"),
        ]
        var directory = UserDirectory()
        directory.users = [.init(name: "nina", roles: ["developer"]), .init(name: "omar", roles: ["dba-lead"]), .init(name: "pia", roles: ["dba"])]
        return Governance(policies: PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: policy).policies)),
                          store: store, agents: [database, kubernetes], inventory: inventory, directory: directory, redactor: Redactor(),
                          defaultTTL: .seconds(3600), toolTimeout: .seconds(5), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    @Test func aRuleWithoutApproversTakesTheDatabasesRoles() async throws {
        try await withTemporaryStore(.sqlite) { store in
            let governance = try Self.governance(store)
            let call = ToolCall(tool: "cancel_query", target: "ledger-db", arguments: ["pid": .number(7)])
            let (decision, _, _) = try governance.decide(call, by: governance.principal(named: "nina"), impact: nil)
            #expect(decision.effect == .requireApproval)
            #expect(decision.approvers == ["role:dba-lead", "role:oncall-senior"])
            #expect(decision.reason.hasPrefix("needs 1 approval(s) from role dba-lead, role oncall-senior (the rule names no approvers, "
                                              + "so the approval_override_roles of database ledger-db decide), by policy ledger"))

            // The request opened with them: only those roles may decide it.
            guard case .pendingApproval(let record, _) = try await governance.request(call, by: governance.principal(named: "nina"), via: "test") else {
                Issue.record("expected an approval request")
                return
            }
            let refused = try await governance.vote(on: record.id, by: governance.principal(named: "pia"), approve: true, reason: nil, via: "test")
            guard case .refused(let why) = refused else { Issue.record("pia has no override role: \(refused)"); return }
            #expect(why.contains("is not among the approvers"))
            let approved = try await governance.vote(on: record.id, by: governance.principal(named: "omar"), approve: true, reason: nil, via: "test")
            guard case .approved = approved else { Issue.record("omar holds dba-lead: \(approved)"); return }
        }
    }

    @Test func aRulesOwnApproversWin() async throws {
        try await withTemporaryStore(.sqlite) { store in
            let governance = try Self.governance(store)
            let call = ToolCall(tool: "terminate_backend", target: "ledger-db", arguments: ["pid": .number(7)])
            let (decision, _, _) = try governance.decide(call, by: governance.principal(named: "nina"), impact: nil)
            #expect(decision.approvers == ["role:dba"])
            #expect(!decision.reason.contains("approval_override_roles"))
        }
    }

    @Test func otherResourcesKeepAnyoneButTheRequester() async throws {
        try await withTemporaryStore(.sqlite) { store in
            let governance = try Self.governance(store)
            let nina = governance.principal(named: "nina")
            let elsewhere = try governance.decide(ToolCall(tool: "cancel_query", target: "scratch-db", arguments: ["pid": .number(7)]),
                                                  by: nina, impact: nil).0
            #expect(elsewhere.effect == .requireApproval && elsewhere.approvers.isEmpty, "a database without the key")
            // The database's pods are decided on its cluster, whose approvers the policies name.
            let pods = try governance.decide(ToolCall(tool: "rollout_restart", target: "ledger-db", arguments: ["name": .string("api")]),
                                             by: nina, impact: nil).0
            #expect(pods.effect == .requireApproval && pods.approvers.isEmpty)
            #expect(pods.reason.contains("anyone but the requester"))
        }
    }
}
