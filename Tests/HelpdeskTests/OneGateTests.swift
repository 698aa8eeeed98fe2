import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskLLM
import HelpdeskOrchestrator
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Synchronization
import Testing
import Yams

/// Every tool call passes the one gate: decided as whoever it is for, with its real arguments and
/// what it would change, re-decided when an approved call is about to run, and audited.
@Suite struct OneGateTests {
    /// An agent whose writes state their impact and pin their target, recording what it was asked.
    final class ScaleAgent: Agent {
        let name = "kubernetes"
        let tools = [
            ToolDescriptor(name: "pods", agent: "kubernetes", action: .read, summary: "", parameters: [ToolParameter("namespace", .string, "ns")]),
            ToolDescriptor(name: "scale", agent: "kubernetes", action: .write, summary: "",
                           parameters: [ToolParameter("namespace", .string, "ns"), ToolParameter("replicas", .integer, "n"),
                                        ToolParameter("generation", .integer, "pinned")]),
        ]
        let current: Int
        private let calls = Mutex<[ToolCall]>([])

        init(current: Int) {
            self.current = current
        }

        var received: [ToolCall] { calls.withLock { $0 } }

        func run(_ call: ToolCall) async throws -> JSONValue {
            calls.withLock { $0.append(call) }
            return .object(["ok": .bool(true), "token": .string("xoxb-1234567890-abcdefghij")])
        }

        func impact(of call: ToolCall) async throws -> ToolImpact {
            call.tool == "scale" ? ToolImpact(pods: abs(Int(call.integer("replicas") ?? 0) - current)) : .none
        }

        func pin(_ call: ToolCall) async throws -> ToolCall {
            var pinned = call
            pinned.arguments["generation"] = .number(7)
            return pinned
        }
    }

    /// A clock the test moves.
    final class TestClock: Sendable {
        let time: Mutex<Date>

        init(_ start: Date) {
            time = Mutex(start)
        }

        var now: Date { time.withLock { $0 } }
    }

    struct Harness {
        let folder: TemporaryDirectory
        let store: SQLiteStore
        let agent: ScaleAgent
        let policies: PolicySet
        let clock: TestClock
        let governance: Governance

        init(policy: String, current: Int = 3, users: [UserDirectory.User]? = nil) throws {
            folder = try TemporaryDirectory()
            store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
            agent = ScaleAgent(current: current)
            var inventory = Infrastructure()
            inventory.k8sClusters = [.init(id: "prod", tags: ["production"], sensitivity: ["pii"])]
            var directory = UserDirectory()
            directory.users = users ?? [.init(name: "alice", roles: ["sre"]), .init(name: "bob", roles: ["sre"]), .init(name: "carol", roles: ["sre"])]
            policies = PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: policy).policies))
            // Monday 2026-11-23 19:59 UTC.
            let clock = TestClock(Date(timeIntervalSince1970: 1_795_463_940))
            self.clock = clock
            governance = Governance(policies: policies, store: store, agents: [agent], inventory: inventory, directory: directory,
                                    redactor: Redactor(), defaultTTL: .seconds(3600), toolTimeout: .seconds(5),
                                    now: { clock.now }, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        }

        func advance(by seconds: TimeInterval) {
            clock.time.withLock { $0 = $0.addingTimeInterval(seconds) }
        }

        func events(_ kind: String) async throws -> [AuditEvent] {
            try await store.audit.events(since: nil, limit: 1000).filter { $0.kind == kind }
        }

        func finish() async throws {
            try await store.close()
            folder.remove()
        }
    }

    static let readsForSREOnly = """
        version: "1"
        policies:
          - name: sre-reads
            principals: [{role: sre}]
            rules: [{action: read, effect: allow}]
        """

    @Test func aDiagnosisForSomeonePolicyDeniesNeverReachesTheTarget() async throws {
        let harness = try Harness(policy: Self.readsForSREOnly)
        let runbook = try YAMLDecoder().decode(Runbook.self, from: """
            name: pods
            target_type: kubernetes
            match: {fallback: true}
            tools: [{tool: pods}]
            """)
        var inventory = Infrastructure()
        inventory.k8sClusters = [.init(id: "prod")]
        let orchestrator = Orchestrator(runbooks: [runbook], gate: harness.governance, inventory: inventory,
                                        options: .init(toolTimeout: .seconds(5), bundleDirectory: harness.folder.file("b"), bundleRetention: .seconds(60)),
                                        store: harness.store, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let stranger = Principal(id: "slack:U999", kind: .anonymous)
        let denied = await orchestrator.diagnose(DiagnosisRequest(target: "prod", namespace: "orders", principal: stranger, via: "slack"))
        #expect(harness.agent.received.isEmpty, "a denied read never reaches the agent")
        #expect(denied.tools.first?.error?.contains("denied by default") == true || denied.tools.first?.error?.contains("no policy allows") == true)
        #expect(denied.problems.contains { $0.hasPrefix("pods: ") })
        let audited = try await harness.events("tool_call")
        #expect(audited.count == 1 && audited[0].principal == "anonymous:slack:U999" && audited[0].data.contains("\"outcome\":\"denied\""))

        let allowed = await orchestrator.diagnose(DiagnosisRequest(target: "prod", namespace: "orders", principal: harness.governance.principal(named: "alice"),
                                                                   via: "cli"))
        #expect(harness.agent.received.map(\.tool) == ["pods"])
        #expect(allowed.tools.first?.error == nil)
        let outputs = try await harness.events("tool_call")
        #expect(outputs.count == 2 && outputs[1].principal == "alice")
        try await harness.finish()
    }

    @Test func theModelIsOfferedAndDecidedAsThePrincipalWithItsOwnArguments() async throws {
        let harness = try Harness(policy: """
            version: "1"
            policies:
              - name: orders-only
                resources: [{type: kubernetes, match: {namespace: orders}}]
                rules: [{action: read, effect: allow}]
            """)
        let transport = ScriptedTransport([
            .init(#"{"content": [{"type": "tool_use", "id": "t1", "name": "pods", "input": {"namespace": "payments"}}], "stop_reason": "tool_use", "usage": {}}"#),
            .init(#"{"content": [{"type": "tool_use", "id": "t2", "name": "pods", "input": {"namespace": "orders"}}], "stop_reason": "tool_use", "usage": {}}"#),
            .init(#"{"content": [{"type": "text", "text": "done"}], "stop_reason": "end_turn", "usage": {}}"#),
        ])
        let investigator = Investigator(client: AnthropicClient(baseURL: nil, apiKey: Secret("k"), model: "m", attempts: 1, transport: transport),
                                        limits: .init(maxSteps: 4, tokenBudget: 10_000))
        // No scope (as for a database target, whose pods' namespace is the model's to name): policy decides the
        // namespace the model chose. A scoped investigation refuses another namespace before policy (below).
        let result = await investigator.investigate(target: "prod", briefing: "", gate: harness.governance, principal: .alertBot,
                                                    via: "alert+model")
        #expect(harness.agent.received.map(\.arguments) == [["namespace": .string("orders")]], "the payments call never ran")
        #expect(result.audit.count == 2)
        #expect(result.toolResults.first?.error?.contains("no policy allows") == true)
        // Tool outputs are redacted before they reach the model or a bundle.
        #expect(result.toolResults.last?.output?["token"] != .string("xoxb-1234567890-abcdefghij"))
        try await harness.finish()
    }

    @Test func aScopedModelsCallsAreJudgedInTheDiagnosedNamespaceAndAnotherIsRefused() async throws {
        let harness = try Harness(policy: """
            version: "1"
            policies:
              - name: orders-only
                resources: [{type: kubernetes, match: {namespace: orders}}]
                rules: [{action: read, effect: allow}, {action: write, effect: require_approval}]
            """)
        let transport = ScriptedTransport([
            .init(#"{"content": [{"type": "tool_use", "id": "t1", "name": "pods", "input": {}}], "stop_reason": "tool_use", "usage": {}}"#),
            .init(#"{"content": [{"type": "tool_use", "id": "t2", "name": "scale", "input": {"replicas": 2}}], "stop_reason": "tool_use", "usage": {}}"#),
            .init(#"{"content": [{"type": "tool_use", "id": "t3", "name": "pods", "input": {"namespace": "payments"}}], "stop_reason": "tool_use", "usage": {}}"#),
            .init(#"{"content": [{"type": "text", "text": "done"}], "stop_reason": "end_turn", "usage": {}}"#),
        ])
        let investigator = Investigator(client: AnthropicClient(baseURL: nil, apiKey: Secret("k"), model: "m", attempts: 1, transport: transport),
                                        limits: .init(maxSteps: 5, tokenBudget: 10_000))
        let result = await investigator.investigate(target: "prod", briefing: "", gate: harness.governance, principal: .alertBot,
                                                    via: "alert+model", scope: ["namespace": .string("orders")])
        let ran = harness.agent.received.map(\.arguments)
        let expectedRuns: [[String: JSONValue]] = [["namespace": .string("orders")]]
        #expect(ran == expectedRuns, "the read without a namespace ran in orders; the one in payments never ran")
        // Without the namespace filled in, no policy would match the proposal and it would be refused.
        let proposed = result.proposedActions
        let expectedProposal = [ToolCall(tool: "scale", target: "prod", arguments: ["namespace": .string("orders"), "replicas": .number(2)])]
        #expect(proposed == expectedProposal)
        let kinds = result.audit.map(\.kind)
        let expectedKinds = ["tool_call", "policy_decision", "tool_call"]
        #expect(kinds == expectedKinds)
        #expect(result.audit.last?.data["outcome"] == .string("denied"))
        #expect(result.audit.last?.data["error"]?.description.contains("this diagnosis is about namespace orders") == true)
        try await harness.finish()
    }

    @Test func modelCallsOutsideTheCatalogOrWithBadArgumentsAreRefusedAndAudited() async throws {
        let harness = try Harness(policy: Self.readsForSREOnly)
        let transport = ScriptedTransport([
            .init(#"{"content": [{"type": "tool_use", "id": "t1", "name": "drop_everything", "input": {}}], "stop_reason": "tool_use", "usage": {}}"#),
            .init(#"{"content": [{"type": "tool_use", "id": "t2", "name": "pods", "input": {"namespace": 5}}], "stop_reason": "tool_use", "usage": {}}"#),
            .init(#"{"content": [{"type": "text", "text": "done"}], "stop_reason": "end_turn", "usage": {}}"#),
        ])
        let investigator = Investigator(client: AnthropicClient(baseURL: nil, apiKey: Secret("k"), model: "m", attempts: 1, transport: transport),
                                        limits: .init(maxSteps: 4, tokenBudget: 10_000))
        let result = await investigator.investigate(target: "prod", briefing: "", gate: harness.governance,
                                                    principal: harness.governance.principal(named: "alice"), via: "alert+model")
        #expect(harness.agent.received.isEmpty, "neither call ran")
        #expect(result.audit.map(\.kind) == ["tool_call", "tool_call"])
        #expect(result.audit.map(\.target) == ["prod", "prod"])
        #expect(result.audit.allSatisfy { $0.principal == "alice" && $0.data["outcome"] == .string("denied") })
        #expect(result.audit.first?.data.value(at: "call.tool") == .string("drop_everything"))
        #expect(result.audit.last?.data["error"]?.description.contains("namespace") == true)
        try await harness.finish()
    }

    @Test func maxPodsAffectedIsMeasuredAndSensitivityComesFromTheInventory() async throws {
        let harness = try Harness(policy: """
            version: "1"
            policies:
              - name: pii
                priority: 200
                resources: [{type: kubernetes, match: {sensitivity: [pii], tool: pods}}]
                rules: [{action: read, effect: deny, message: no reads on PII clusters}]
              - name: scaling
                rules:
                  - action: write
                    effect: allow
                    conditions: {max_pods_affected: 3}
            """, current: 3)
        let big = try await harness.governance.request(
            ToolCall(tool: "scale", target: "prod", arguments: ["namespace": .string("orders"), "replicas": .number(1000)]),
            by: Principal(id: "alice"), via: "test")
        guard case .denied(let decision) = big else { Issue.record("scale to 1000 should be denied, got \(big)"); return }
        #expect(decision.reason.contains("997 pods, over the limit of 3"))
        let small = try await harness.governance.request(
            ToolCall(tool: "scale", target: "prod", arguments: ["namespace": .string("orders"), "replicas": .number(5)]),
            by: Principal(id: "alice"), via: "test")
        guard case .ran = small else { Issue.record("scale by 2 should run, got \(small)"); return }
        let read = try await harness.governance.request(ToolCall(tool: "pods", target: "prod", arguments: ["namespace": .string("orders")]),
                                                       by: Principal(id: "alice"), via: "test")
        guard case .denied(let piiDecision) = read else { Issue.record("the pii rule should match, got \(read)"); return }
        #expect(piiDecision.policy == "pii")
        try await harness.finish()
    }

    static let offHours = """
        version: "1"
        policies:
          - name: production
            rules:
              - action: write
                effect: deny
                message: not after 20:00
                conditions: {schedule: {days: [mon, tue, wed, thu, fri], hours: "20:00-07:00", timezone: UTC}}
              - action: write
                effect: require_approval
                conditions: {approval_quorum: 1}
        """

    @Test func anApprovalThatWouldRunOffHoursDoesNotRun() async throws {
        let harness = try Harness(policy: Self.offHours)
        let outcome = try await harness.governance.request(
            ToolCall(tool: "scale", target: "prod", arguments: ["namespace": .string("orders"), "replicas": .number(4)]),
            by: Principal(id: "alice"), via: "test")
        guard case .pendingApproval(let record, _) = outcome else { Issue.record("expected a request, got \(outcome)"); return }
        #expect(record.call?.arguments["generation"] == .number(7), "the pinned call is what approvers see and what runs")
        guard case .approved = try await harness.governance.vote(on: record.id, by: harness.governance.principal(named: "bob"), approve: true,
                                                                  reason: nil, via: "test") else { Issue.record("bob's vote should approve"); return }
        harness.advance(by: 2 * 60)  // 20:01, outside the schedule that allowed it
        let result = try await harness.governance.executeApproved(record.id)
        #expect(result["error"]?.description.contains("denied when it was about to run") == true)
        #expect(harness.agent.received.isEmpty)
        #expect(try await harness.events("approval_not_run").count == 1)
        try await harness.finish()
    }

    @Test func aStricterPolicyLoadedAfterApprovalSendsTheRequestBackToPending() async throws {
        let harness = try Harness(policy: """
            version: "1"
            policies:
              - name: p
                rules: [{action: write, effect: require_approval, conditions: {approval_quorum: 1}}]
            """)
        guard case .pendingApproval(let record, _) = try await harness.governance.request(
            ToolCall(tool: "scale", target: "prod", arguments: ["replicas": .number(4)]), by: Principal(id: "alice"), via: "test") else {
            Issue.record("expected a request"); return
        }
        _ = try await harness.governance.vote(on: record.id, by: harness.governance.principal(named: "bob"), approve: true, reason: nil, via: "test")
        harness.policies.replace(with: PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: """
            version: "1"
            policies:
              - name: p
                rules: [{action: write, effect: require_approval, conditions: {approval_quorum: 2}}]
            """).policies))
        let result = try await harness.governance.executeApproved(record.id)
        #expect(result["reopened"] != nil)
        let reopened = try #require(try await harness.store.approvals.approval(id: record.id))
        #expect(reopened.status == .pending && reopened.quorum == 2)
        #expect(harness.agent.received.isEmpty)
        // Bob's vote still counts: one more approval runs it, once.
        guard case .approved = try await harness.governance.vote(on: record.id, by: harness.governance.principal(named: "carol"), approve: true,
                                                                  reason: nil, via: "test") else { Issue.record("carol completes the quorum"); return }
        _ = try await harness.governance.executeApproved(record.id)
        #expect(harness.agent.received.count == 1)
        try await harness.finish()
    }

    @Test func anApprovalNotStartedInTimeExpiresUnrun() async throws {
        let harness = try Harness(policy: """
            version: "1"
            policies:
              - name: p
                rules: [{action: write, effect: require_approval}]
            """)
        guard case .pendingApproval(let record, _) = try await harness.governance.request(
            ToolCall(tool: "scale", target: "prod", arguments: ["replicas": .number(4)]), by: Principal(id: "alice"), via: "test") else {
            Issue.record("expected a request"); return
        }
        _ = try await harness.governance.vote(on: record.id, by: harness.governance.principal(named: "bob"), approve: true, reason: nil, via: "test")
        harness.advance(by: 11 * 60)
        let result = try await harness.governance.executeApproved(record.id)
        #expect(result["error"]?.description.contains("not started within 10m") == true)
        #expect(harness.agent.received.isEmpty)
        try await harness.finish()
    }

    @Test func withoutApproversOnlyPeopleUnderUsersMayApproveAndRemovedVotersStopCounting() async throws {
        let policy = """
            version: "1"
            policies:
              - name: p
                rules: [{action: write, effect: require_approval, conditions: {approval_quorum: 2}}]
            """
        let harness = try Harness(policy: policy)
        guard case .pendingApproval(let record, _) = try await harness.governance.request(
            ToolCall(tool: "scale", target: "prod", arguments: ["replicas": .number(4)]), by: Principal(id: "alice"), via: "test") else {
            Issue.record("expected a request"); return
        }
        let token = try await harness.governance.vote(on: record.id, by: harness.governance.principal(named: "ops-automation"), approve: true,
                                                     reason: nil, via: "api")
        guard case .refused(let why) = token else { Issue.record("an API-token principal outside users: must not approve"); return }
        #expect(why.contains("not a person under users:"))
        guard case .refused = try await harness.governance.vote(on: record.id, by: .alertBot, approve: true, reason: nil, via: "test") else {
            Issue.record("a service must not approve unless a rule names it"); return
        }
        guard case .recorded = try await harness.governance.vote(on: record.id, by: harness.governance.principal(named: "bob"), approve: true,
                                                                  reason: nil, via: "test") else { Issue.record("bob may approve"); return }
        // Bob leaves the team: the same store, a directory without him.
        let without = Governance(policies: harness.policies, store: harness.store, agents: [harness.agent], inventory: Infrastructure(),
                                 directory: { var d = UserDirectory(); d.users = [.init(name: "alice"), .init(name: "carol")]; return d }(),
                                 redactor: Redactor(), defaultTTL: .seconds(3600), toolTimeout: .seconds(5), now: { [clock = harness.clock] in clock.now },
                                 logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let carol = try await without.vote(on: record.id, by: without.principal(named: "carol"), approve: true, reason: nil, via: "test")
        guard case .recorded(_, let remaining) = carol else { Issue.record("bob's vote no longer counts, so carol's alone is not a quorum: \(carol)"); return }
        #expect(remaining == 1)
        try await harness.finish()
    }

    @Test func aWriteRetriedUnderTheSameExecutionKeyRunsOnce() async throws {
        let harness = try Harness(policy: """
            version: "1"
            policies:
              - name: p
                rules: [{action: write, effect: allow}]
            """)
        let call = ToolCall(tool: "scale", target: "prod", arguments: ["replicas": .number(4)])
        guard case .ran = try await harness.governance.request(call, by: Principal(id: "alice"), via: "slack", executionKey: "slack-command:17") else {
            Issue.record("the first attempt runs"); return
        }
        guard case .repeated(let earlier) = try await harness.governance.request(call, by: Principal(id: "alice"), via: "slack",
                                                                                 executionKey: "slack-command:17") else {
            Issue.record("the retry must not run again"); return
        }
        #expect(earlier.state == .succeeded)
        #expect(harness.agent.received.count == 1)
        // A crash after the claim and before the result: the retry still does not run it.
        _ = try await harness.store.executions.claim(key: "slack-command:18", principal: "alice", now: Date())
        guard case .repeated(let unknown) = try await harness.governance.request(call, by: Principal(id: "alice"), via: "slack",
                                                                                 executionKey: "slack-command:18") else {
            Issue.record("an attempt that died mid-way is not repeated"); return
        }
        #expect(unknown.state == .running)
        #expect(harness.agent.received.count == 1)
        try await harness.finish()
    }
}
