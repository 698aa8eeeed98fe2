import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskOrchestrator
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing
import Yams

/// Regressions for the findings of the security review of the one gate.
@Suite struct SecurityReviewTests {
    /// The real Governance over a fresh store, with the policy, agents and inventory a test gives.
    struct Harness: Sendable {
        let folder: TemporaryDirectory
        let store: SQLiteStore
        let governance: Governance

        init(policy: String, agents: [any Agent], inventory: Infrastructure = Infrastructure(),
             users: [UserDirectory.User] = [.init(name: "alice", roles: ["sre"]), .init(name: "bob", roles: ["sre"])]) throws {
            folder = try TemporaryDirectory()
            store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
            var directory = UserDirectory()
            directory.users = users
            let policies = PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: policy).policies))
            governance = Governance(policies: policies, store: store, agents: agents, inventory: inventory, directory: directory,
                                    redactor: Redactor(), defaultTTL: .seconds(3600), toolTimeout: .seconds(5),
                                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        }

        func events(_ kind: String) async throws -> [AuditEvent] {
            try await store.audit.events(since: nil, limit: 1000).filter { $0.kind == kind }
        }

        func finish() async throws {
            try await store.close()
            folder.remove()
        }
    }

    static let secretOutput: JSONValue = .object([
        "note": .string("rotated; new bot token xoxb-1234567890-abcdefghij"),
        "password": .string("hunter22"),
        "ok": .bool(true),
    ])

    // MARK: 1. A cluster call carries the sensitivity of the databases whose pods it reads.

    @Test func aClusterCallCarriesTheSensitivityOfTheDatabasesWhosePodsRunInItsNamespace() async throws {
        let kubernetes = FakeAgent(name: "kubernetes", tools: [
            ToolDescriptor(name: "pod_logs", agent: "kubernetes", action: .read, summary: "",
                           parameters: [ToolParameter("namespace", .string, "ns"), ToolParameter("name", .string, "pod")]),
        ], answers: ["pod_logs": .output(.object(["lines": .array([])]))])
        var inventory = Infrastructure()
        inventory.k8sClusters = [.init(id: "shared")]
        inventory.dbServers = [
            .init(id: "orders-db", connectionString: "host=orders", k8sCluster: "shared", k8sNamespace: "orders", sensitivity: ["pii"]),
            .init(id: "metrics-db", connectionString: "host=metrics", k8sCluster: "shared", k8sNamespace: "metrics"),
        ]
        let harness = try Harness(policy: """
            version: "1"
            policies:
              - name: no-pii-for-contractors
                priority: 100
                principals: [{role: contractor}]
                resources: [{type: kubernetes, match: {sensitivity: [pii]}}]
                rules: [{action: read, effect: deny, message: contractors do not read PII}]
              - name: reads
                rules: [{action: read, effect: allow}]
            """, agents: [kubernetes], inventory: inventory)
        let contractor = Principal(id: "eve", roles: ["contractor"])
        func decision(_ target: String, _ arguments: [String: JSONValue]) throws -> Decision {
            try harness.governance.decide(ToolCall(tool: "pod_logs", target: target, arguments: arguments), by: contractor, impact: .none).0
        }
        let viaCluster = try decision("shared", ["namespace": .string("orders"), "name": .string("orders-api-0")])
        #expect(viaCluster.effect == .deny && viaCluster.policy == "no-pii-for-contractors",
                "the orders database's pods hold its PII, whichever target names them")
        #expect(harness.governance.resource(for: ToolCall(tool: "pod_logs", target: "shared", arguments: ["namespace": .string("orders")])).sensitivity == ["pii"])
        #expect(try decision("shared", ["namespace": .string("metrics"), "name": .string("m-0")]).effect == .allow, "no PII database in metrics")
        #expect(try decision("shared", ["name": .string("orders-api-0")]).effect == .deny, "no namespace: every database on the cluster counts")
        #expect(try decision("metrics-db", ["namespace": .string("orders"), "name": .string("orders-api-0")]).effect == .deny,
                "naming another database's namespace through a database target counts that database too")
        // Through the gate: the denied read never reaches the agent.
        let outcome = try await harness.governance.request(
            ToolCall(tool: "pod_logs", target: "shared", arguments: ["namespace": .string("orders"), "name": .string("orders-api-0")]),
            by: contractor, via: "test")
        guard case .denied = outcome else { Issue.record("expected a denial, got \(outcome)"); return }
        #expect(kubernetes.received.isEmpty)
        try await harness.finish()
    }

    // MARK: 2. Output of gated calls is redacted once, for every consumer.

    @Test func outputOfGatedCallsIsRedactedForTheCallerTheExecutionLogAndTheApproval() async throws {
        let agent = FakeAgent(tools: [
            ToolDescriptor(name: "rotate", agent: "database", action: .write, summary: ""),
            ToolDescriptor(name: "drop_role", agent: "database", action: .destructive, summary: ""),
        ], answers: ["rotate": .output(Self.secretOutput), "drop_role": .output(Self.secretOutput)])
        var inventory = Infrastructure()
        inventory.dbServers = [.init(id: "db", connectionString: "host=db")]
        let harness = try Harness(policy: """
            version: "1"
            policies:
              - name: p
                rules:
                  - {action: write, effect: allow}
                  - {action: destructive, effect: require_approval, conditions: {approval_quorum: 1}}
            """, agents: [agent], inventory: inventory)
        func expectRedacted(_ value: JSONValue?, _ place: String) {
            #expect(value?.jsonText.contains("xoxb-1234567890") == false, "\(place) keeps a token")
            #expect(value?.jsonText.contains("hunter22") == false, "\(place) keeps a password")
            #expect(value?["ok"] == .bool(true), "\(place) keeps the rest")
        }
        let call = ToolCall(tool: "rotate", target: "db")
        guard case .ran(let output, _) = try await harness.governance.request(call, by: Principal(id: "alice"), via: "api",
                                                                             executionKey: "api:k1") else {
            Issue.record("the write should run"); return
        }
        expectRedacted(output, "the caller's copy")
        guard case .repeated(let earlier) = try await harness.governance.request(call, by: Principal(id: "alice"), via: "api",
                                                                                 executionKey: "api:k1") else {
            Issue.record("the replay should return the stored execution"); return
        }
        expectRedacted(earlier.result, "the executions table")

        guard case .pendingApproval(let record, _) = try await harness.governance.request(ToolCall(tool: "drop_role", target: "db"),
                                                                                         by: harness.governance.principal(named: "alice"), via: "api") else {
            Issue.record("the destructive call needs approval"); return
        }
        guard case .approved = try await harness.governance.vote(on: record.id, by: harness.governance.principal(named: "bob"), approve: true,
                                                                  reason: nil, via: "test") else { Issue.record("bob approves"); return }
        let executed = try await harness.governance.executeApproved(record.id)
        expectRedacted(executed, "the approved run's result")
        let stored = try #require(try await harness.store.approvals.approval(id: record.id))
        expectRedacted(stored.result, "approvals.result")
        try await harness.finish()
    }

    // MARK: 3. An hours range the schedule cannot represent is a load error, not a trap.

    @Test func anHoursRangeStartingAt24IsAPolicyLoadError() throws {
        for hours in ["24:00-06:00", "24:00-00:00"] {
            do {
                _ = try PolicyLoader.parse(yaml: """
                    version: "1"
                    policies:
                      - name: night
                        rules:
                          - {action: write, effect: deny, conditions: {schedule: {hours: "\(hours)"}}}
                    """, file: "night.yaml")
                Issue.record("\(hours) loaded")
            } catch {
                #expect(error.description.contains("24:00"), "\(error)")
            }
        }
        // What ends at 24:00 or wraps past midnight still loads.
        let evening = try PolicyLoader.parse(yaml: """
            version: "1"
            policies:
              - name: evening
                rules:
                  - {action: write, effect: deny, conditions: {schedule: {hours: "18:00-24:00"}}}
                  - {action: write, effect: deny, conditions: {schedule: {hours: "22:00-06:00"}}}
            """, file: "evening.yaml")
        #expect(evening.first?.rules.count == 2)
    }

    // MARK: 4. Huge durations are refused where they are parsed, and conversions clamp.

    @Test func hugeOrNonFiniteDurationsAreRefusedAndConversionsDoNotTrap() throws {
        for text in ["1e16s", "1e300d", "infs", "nans", "3651d", "87601h"] {
            #expect(Duration(parsing: text) == nil, "\(text)")
        }
        #expect(Duration(parsing: "3650d") == .seconds(3650 * 86400), "ten years is the longest accepted")
        #expect(Duration(parsing: "90s")?.nanoseconds == 90_000_000_000)
        #expect(Duration.seconds(Int64.max).nanoseconds == .max)
        #expect(Duration.seconds(Int64.min).nanoseconds == .min)
        #expect(!Duration.seconds(Int64.max).compactText.isEmpty)

        // Every parser of durations reports the error instead.
        do {
            _ = try HelpdeskConfiguration(yaml: "jobs:\n  lease: 1e16s\n", file: "test.yaml")
            Issue.record("a lease of 1e16s loaded")
        } catch {
            #expect(error.issues.map(\.keyPath) == ["jobs.lease"])
        }
        do {
            _ = try RunbookLoader.parse(yaml: """
                name: pods
                target_type: kubernetes
                match: {fallback: true}
                tools: [{tool: pods, timeout: 1e16s}]
                """, file: "pods.yaml")
            Issue.record("a runbook timeout of 1e16s loaded")
        } catch {
            #expect(error.message.contains("1e16s"), "\(error)")
        }
        do {
            _ = try PolicyLoader.parse(yaml: """
                version: "1"
                policies:
                  - name: p
                    rules: [{action: write, effect: require_approval, conditions: {approval_ttl: 1e16s}}]
                """, file: "p.yaml")
            Issue.record("an approval_ttl of 1e16s loaded")
        } catch {
            #expect(error.description.contains("1e16s"), "\(error)")
        }
    }

    // MARK: 5. What a pin reads from the target is redacted before approvers see it.

    /// A session tool whose pin adds what it read of the session, as the database agent's does.
    struct PinningAgent: Agent {
        let name = "database"
        let tools = [
            ToolDescriptor(name: "terminate_backend", agent: "database", action: .destructive, summary: "",
                           parameters: [ToolParameter("pid", .integer, required: true, "pid"), ToolParameter("backend_start", .string, "pinned"),
                                        ToolParameter("session_query", .string, "pinned"), ToolParameter("comment", .string, "given")]),
        ]

        func run(_ call: ToolCall) async throws -> JSONValue { .object(["terminated": .bool(true)]) }

        func pin(_ call: ToolCall) async throws -> ToolCall {
            var pinned = call
            pinned.arguments["backend_start"] = .string("2026-11-25T11:34:23.123456+00:00")
            pinned.arguments["session_query"] = .string("ALTER ROLE app PASSWORD 'hunter22'; -- xoxb-1234567890-abcdefghij")
            return pinned
        }
    }

    @Test func pinnedDescriptionsAreRedactedInTheApprovalRequest() async throws {
        var inventory = Infrastructure()
        inventory.dbServers = [.init(id: "db", connectionString: "host=db")]
        let harness = try Harness(policy: """
            version: "1"
            policies:
              - name: p
                rules: [{action: destructive, effect: require_approval}]
            """, agents: [PinningAgent()], inventory: inventory)
        let outcome = try await harness.governance.request(
            ToolCall(tool: "terminate_backend", target: "db", arguments: ["pid": .number(4242), "comment": .string("stuck")]),
            by: harness.governance.principal(named: "alice"), via: "test")
        guard case .pendingApproval(let record, _) = outcome else { Issue.record("expected a request, got \(outcome)"); return }
        let request = try #require(record.call)
        #expect(!request.callText.contains("hunter22") && !request.callText.contains("xoxb-1234567890"), "\(request.callText)")
        #expect(request.arguments["session_query"]?.description.contains("ALTER ROLE app PASSWORD") == true, "the rest stays readable")
        #expect(request.arguments["backend_start"] == .string("2026-11-25T11:34:23.123456+00:00"), "the checked identity is unchanged")
        #expect(request.arguments["comment"] == .string("stuck") && request.arguments["pid"] == .number(4242))
        #expect(!record.request.jsonText.contains("hunter22"), "nor in the stored request")
        try await harness.finish()
    }

    // MARK: 7. An execution key is tied to the call it was first used with.

    @Test func anExecutionKeyReusedForAnotherCallIsRefusedAndNothingRuns() async throws {
        let agent = FakeAgent(tools: [ToolDescriptor(name: "rotate", agent: "database", action: .write, summary: "",
                                                     parameters: [ToolParameter("role", .string, "role")])],
                              answers: ["rotate": .output(.object(["ok": .bool(true)]))])
        var inventory = Infrastructure()
        inventory.dbServers = [.init(id: "db", connectionString: "host=db"), .init(id: "other-db", connectionString: "host=other")]
        let harness = try Harness(policy: """
            version: "1"
            policies:
              - name: p
                rules: [{action: write, effect: allow}]
            """, agents: [agent], inventory: inventory)
        let call = ToolCall(tool: "rotate", target: "db", arguments: ["role": .string("app")])
        guard case .ran = try await harness.governance.request(call, by: Principal(id: "alice"), via: "api", executionKey: "api:alice:k") else {
            Issue.record("the first call runs"); return
        }
        guard case .repeated(let earlier) = try await harness.governance.request(call, by: Principal(id: "alice"), via: "api",
                                                                                 executionKey: "api:alice:k") else {
            Issue.record("the same call again is a replay"); return
        }
        #expect(earlier.fingerprint?.count == 64, "a SHA-256 in hex is stored with the key")
        for reused in [ToolCall(tool: "rotate", target: "other-db", arguments: ["role": .string("app")]),
                       ToolCall(tool: "rotate", target: "db", arguments: ["role": .string("admin")])] {
            await #expect(throws: ExecutionKeyReused.self) {
                try await harness.governance.request(reused, by: Principal(id: "alice"), via: "api", executionKey: "api:alice:k")
            }
        }
        #expect(agent.received == [call], "only the first call ran")
        try await harness.finish()
    }
}
