import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskLLM
import HelpdeskOrchestrator
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing
import Yams

@Suite struct OrchestratorTests {
    static let runbooks = """
        name: locks
        match: {symptoms: [stuck], alerts: [PostgresLockPileUp]}
        tools:
          - {tool: blocking_locks}
          - {tool: slow_tool, timeout: 200ms}
          - {tool: broken_tool}
          - {tool: terminate_backend}
        rules:
          - id: blocker
            tool: blocking_locks
            each: blockers
            when: [{field: blocked_count, at_least: 1}]
            severity: critical
            finding: "PID {pid} blocks {blocked_count}"
            recommend: [{tool: terminate_backend, args: {pid: "{pid}"}}]
        """

    struct Harness {
        let folder: TemporaryDirectory
        let store: SQLiteStore
        let agent: FakeAgent
        let orchestrator: Orchestrator

        init(slowSeconds: Double = 60) throws {
            folder = try TemporaryDirectory()
            store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
            agent = FakeAgent(
                tools: [FakeAgent.read("blocking_locks"), FakeAgent.read("slow_tool"), FakeAgent.read("broken_tool"), FakeAgent.read("idle"),
                        ToolDescriptor(name: "terminate_backend", agent: "database", action: .destructive, summary: "")],
                answers: [
                    "blocking_locks": .output(try JSONValue(parsing: #"{"blockers": [{"pid": 7, "blocked_count": 2}]}"#)),
                    "slow_tool": .slow(seconds: slowSeconds, .object([:])),
                    "broken_tool": .failure("permission denied for view pg_stat_activity"),
                    "idle": .output(.object(["sessions": .array([])])),
                ])
            let locks = try YAMLDecoder().decode(Runbook.self, from: OrchestratorTests.runbooks)
            let fallback = try YAMLDecoder().decode(Runbook.self, from: "name: health\nmatch: {fallback: true}\ntools: [{tool: idle}]\n")
            var inventory = Infrastructure()
            inventory.dbServers = [.init(id: "prod-db", connectionString: "host=x")]
            orchestrator = Orchestrator(
                runbooks: [locks, fallback], gate: OpenGate(agents: [agent]), inventory: inventory,
                options: .init(toolTimeout: .seconds(10), bundleDirectory: folder.file("bundles"), bundleRetention: .seconds(86400)),
                store: store, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
    }

    @Test func diagnosisRunsToolsConcurrentlyAndSurvivesSlowAndFailingOnes() async throws {
        let harness = try Harness()
        defer { harness.folder.remove() }
        let diagnosis = await harness.orchestrator.diagnose(DiagnosisRequest(target: "prod-db", symptom: "everything is stuck", principal: .tester, via: "test"))
        #expect(diagnosis.runbooks == ["locks"])
        #expect(diagnosis.findings.map(\.summary) == ["PID 7 blocks 2"])
        #expect(diagnosis.recommendedActions.map(\.call) == [ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(7)])])
        let runs = Dictionary(uniqueKeysWithValues: diagnosis.tools.map { ($0.tool, $0) })
        #expect(runs["slow_tool"]?.error == "timed out after 200ms")
        #expect(runs["broken_tool"]?.error == "permission denied for view pg_stat_activity")
        #expect(runs["terminate_backend"]?.error?.contains("diagnoses run read tools only") == true)
        #expect(!harness.agent.received.contains { $0.tool == "terminate_backend" }, "a diagnosis never runs a write")
        // A minute of sleep the tool's 200 ms timeout cuts short: far apart, so a loaded machine cannot blur them.
        #expect(diagnosis.milliseconds < 30_000, "the slow tool's own timeout, not its 60 s, bounds the diagnosis")
        #expect(diagnosis.summary.hasPrefix("prod-db: 1 critical — PID 7 blocks 2"))
        try await harness.store.close()
    }

    @Test func runbooksAreChosenByAlertThenSymptomThenFallback() async throws {
        let harness = try Harness(slowSeconds: 0)
        defer { harness.folder.remove() }
        #expect(await harness.orchestrator.diagnose(DiagnosisRequest(target: "prod-db", alertName: "PostgresLockPileUp", principal: .tester, via: "test")).runbooks == ["locks"])
        let fallback = await harness.orchestrator.diagnose(DiagnosisRequest(target: "prod-db", symptom: "disk full", principal: .tester, via: "test"))
        #expect(fallback.runbooks == ["health"])
        #expect(fallback.isHealthy)
        try await harness.store.close()
    }

    @Test func unknownTargetStillGivesADiagnosisThatSaysWhy() async throws {
        let harness = try Harness()
        defer { harness.folder.remove() }
        let diagnosis = await harness.orchestrator.diagnose(DiagnosisRequest(target: "prod-dbb", principal: .tester, via: "test"))
        #expect(diagnosis.problems == ["prod-dbb is not in the inventory; known targets: prod-db"])
        #expect(diagnosis.summary == "prod-dbb: cannot diagnose: prod-dbb is not in the inventory; known targets: prod-db")
        #expect(diagnosis.bundlePath != nil)
        try await harness.store.close()
    }

    @Test func bundleHoldsEveryToolResultAndIsIndexed() async throws {
        let harness = try Harness(slowSeconds: 0)
        defer { harness.folder.remove() }
        let diagnosis = await harness.orchestrator.diagnose(DiagnosisRequest(target: "prod-db", symptom: "stuck", principal: .tester, via: "test"))
        let path = try #require(diagnosis.bundlePath)
        let unpacked = harness.folder.file("unpacked")
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-xzf", path, "-C", unpacked]
        try tar.run()
        tar.waitUntilExit()
        #expect(tar.terminationStatus == 0)
        let root = unpacked + "/" + diagnosis.incidentID
        let manifest = try JSONValue(parsing: String(contentsOfFile: root + "/manifest.json", encoding: .utf8))
        #expect(manifest["id"] == .string(diagnosis.incidentID))
        #expect(manifest["trigger"] == .string("symptom: stuck"))
        #expect(manifest["tools"]?.arrayValue?.count == 4)
        #expect(manifest["errors"]?.arrayValue?.contains(.string("broken_tool: permission denied for view pg_stat_activity")) == true)
        let toolFiles = try FileManager.default.contentsOfDirectory(atPath: root + "/tools").sorted()
        #expect(toolFiles == ["01-blocking_locks.json", "02-slow_tool.json", "03-broken_tool.json", "04-terminate_backend.json"])
        let blocking = try JSONValue(parsing: String(contentsOfFile: root + "/tools/01-blocking_locks.json", encoding: .utf8))
        #expect(blocking.value(at: "output.blockers")?.arrayValue?.first?["pid"] == .number(7))
        #expect(try String(contentsOfFile: root + "/diagnosis.md", encoding: .utf8).contains("PID 7 blocks 2"))
        let record = try #require(try await harness.store.incidents.incident(id: diagnosis.incidentID))
        #expect(record.severity == "critical")
        #expect(record.bundlePath == path)
        #expect(record.findingCount == 1)
        try await harness.store.close()
    }
}

@Suite struct IncidentRetentionTests {
    @Test func bundlesPastRetentionAreDeletedWithTheirIndexEntries() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        let bundles = folder.file("bundles")
        try FileManager.default.createDirectory(atPath: bundles, withIntermediateDirectories: true)
        let oldPath = bundles + "/inc_old.tar.gz"
        try Data("old".utf8).write(to: URL(fileURLWithPath: oldPath))
        try await store.apply(ChangeSet(incidents: [IncidentRecord(
            id: "inc_old", createdAt: Date().addingTimeInterval(-10 * 86400), target: "prod-db", trigger: "manual", summary: "old",
            severity: "healthy", findingCount: 0, bundlePath: oldPath, bundleBytes: 3)]))
        let agent = FakeAgent(tools: [FakeAgent.read("idle")], answers: ["idle": .output(.object([:]))])
        var inventory = Infrastructure()
        inventory.dbServers = [.init(id: "prod-db", connectionString: "host=x")]
        let runbook = try YAMLDecoder().decode(Runbook.self, from: "name: h\nmatch: {fallback: true}\ntools: [{tool: idle}]\n")
        let orchestrator = Orchestrator(
            runbooks: [runbook], gate: OpenGate(agents: [agent]), inventory: inventory,
            options: .init(toolTimeout: .seconds(5), bundleDirectory: bundles, bundleRetention: .seconds(7 * 86400)),
            store: store, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let fresh = await orchestrator.diagnose(DiagnosisRequest(target: "prod-db", principal: .tester, via: "test"))
        #expect(!FileManager.default.fileExists(atPath: oldPath))
        #expect(try await store.incidents.incident(id: "inc_old") == nil)
        #expect(try await store.incidents.list(limit: 10).map(\.id) == [fresh.incidentID])
        try await store.close()
    }

    @Test func modelIsOfferedOnlyTheToolsPolicyWouldLetItPropose() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let transport = ScriptedTransport([.init(#"{"content": [{"type": "text", "text": "fine"}], "stop_reason": "end_turn", "usage": {}}"#)])
        let agent = FakeAgent(tools: [FakeAgent.read("idle"), ToolDescriptor(name: "drop_everything", agent: "database", action: .destructive, summary: "")],
                              answers: ["idle": .output(.object([:]))])
        var inventory = Infrastructure()
        inventory.dbServers = [.init(id: "prod-db", connectionString: "host=x")]
        let runbook = try YAMLDecoder().decode(Runbook.self, from: "name: h\nmatch: {fallback: true}\ntools: [{tool: idle}]\n")
        let orchestrator = Orchestrator(
            runbooks: [runbook], gate: OpenGate(agents: [agent], denied: ["drop_everything"]), inventory: inventory,
            options: .init(toolTimeout: .seconds(5), bundleDirectory: folder.file("b"), bundleRetention: .seconds(86400)), store: nil,
            investigator: Investigator(client: AnthropicClient(baseURL: nil, apiKey: Secret("k"), model: "m", transport: transport), limits: .init()),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let diagnosis = await orchestrator.diagnose(DiagnosisRequest(target: "prod-db", principal: .tester, via: "test"))
        #expect(diagnosis.mode == "llm")
        let offered = (transport.requests.first?.json["tools"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(offered == ["idle"])
    }
}

/// Follow-up reads: run for kept findings through the same gate, their output filling the text.
@Suite struct FollowUpTests {
    static func runbook(_ follow: String, finding: String) -> String {
        """
        name: crash
        target_type: kubernetes
        match: {symptoms: [stuck]}
        tools: [{tool: pods}]
        rules:
          - id: pod-cannot-start
            tool: pods
            each: pods
            when: [{field: waiting_reason, equals: CrashLoopBackOff}]
            follow:
              - \(follow)
            severity: critical
            finding: "\(finding)"
        """
    }

    static let tools: [ToolDescriptor] = [
        ToolDescriptor(name: "pods", agent: "kubernetes", action: .read, summary: "", parameters: [ToolParameter("namespace", .string, "")]),
        ToolDescriptor(name: "pod_logs", agent: "kubernetes", action: .read, summary: "", parameters: [
            ToolParameter("namespace", .string, ""), ToolParameter("name", .string, required: true, ""),
            ToolParameter("tail", .integer, ""), ToolParameter("previous", .string, ""),
        ]),
        ToolDescriptor(name: "rollout_restart", agent: "kubernetes", action: .write, summary: "", parameters: [ToolParameter("name", .string, "")]),
    ]

    static func pods(_ count: Int) -> JSONValue {
        .object(["pods": .array((1...count).map { .object(["name": .string("api-\($0)"), "waiting_reason": .string("CrashLoopBackOff")]) })])
    }

    @Test func aFollowUpReadRunsThroughTheGateAndFillsTheText() async throws {
        let harness = try RuleEngineTests.Harness(
            [Self.runbook(#"{as: logs, tool: pod_logs, args: {name: "{name}", previous: "true", tail: "100"}}"#,
                          finding: "pod {name} crashes: {logs.key_line|no log line}")],
            tools: Self.tools,
            answers: ["pods": .output(Self.pods(1)), "pod_logs": .output(.object(["key_line": .string("FATAL: config key DB_URL missing")]))])
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose("prod-k8s", namespace: "orders")
        let summaries = diagnosis.findings.map(\.summary)
        let expected: [String] = ["pod api-1 crashes: FATAL: config key DB_URL missing"]
        #expect(summaries == expected)
        let call = ToolCall(tool: "pod_logs", target: "prod-k8s", arguments: [
            "name": .string("api-1"), "previous": .string("true"), "tail": .number(100), "namespace": .string("orders"),
        ])
        let logCalls = harness.agent.received.filter { $0.tool == "pod_logs" }
        let expectedCalls: [ToolCall] = [call]
        #expect(logCalls == expectedCalls, "text arguments stay text, the namespace is added as for runbook steps")
        let tools = diagnosis.tools.map(\.tool)
        let expectedTools: [String] = ["pods", "pod_logs"]
        #expect(tools == expectedTools)
        #expect(diagnosis.findings.first?.evidence.value(at: "logs.key_line") == .string("FATAL: config key DB_URL missing"))
    }

    @Test func aFailedFollowUpLeavesItsErrorInTheElement() async throws {
        let harness = try RuleEngineTests.Harness(
            [Self.runbook(#"{as: logs, tool: pod_logs, args: {name: "{name}"}}"#, finding: "pod {name}: {logs.key_line|no line}; {logs.error|}")],
            tools: Self.tools, answers: ["pods": .output(Self.pods(1)), "pod_logs": .failure("container api not found")])
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose("prod-k8s", namespace: "orders")
        #expect(diagnosis.findings.first?.summary == "pod api-1: no line; container api not found")
        #expect(diagnosis.tools.last?.error == "container api not found")
    }

    @Test func aFollowUpOfAWriteToolIsNotRun() async throws {
        let harness = try RuleEngineTests.Harness(
            [Self.runbook(#"{as: restart, tool: rollout_restart, args: {name: "{name}"}}"#, finding: "pod {name}: {restart.output|not restarted}")],
            tools: Self.tools, answers: ["pods": .output(Self.pods(1)), "rollout_restart": .output(.object(["output": .string("restarted")]))])
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose("prod-k8s", namespace: "orders")
        #expect(!harness.agent.received.contains { $0.tool == "rollout_restart" })
        #expect(diagnosis.findings.first?.summary == "pod api-1: not restarted")
        #expect(diagnosis.problems.contains { $0.contains("rollout_restart is a write tool and was not run") })
        #expect(!diagnosis.tools.contains { $0.tool == "rollout_restart" })
    }

    @Test func followUpsAreCappedPerDiagnosis() async throws {
        let harness = try RuleEngineTests.Harness(
            [Self.runbook(#"{as: logs, tool: pod_logs, args: {name: "{name}"}}"#, finding: "pod {name}: {logs.key_line|no log line}")],
            tools: Self.tools, answers: ["pods": .output(Self.pods(10)), "pod_logs": .output(.object(["key_line": .string("panic")]))])
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose("prod-k8s", namespace: "orders")
        let ran = harness.agent.received.filter { $0.tool == "pod_logs" }.count
        #expect(ran == Orchestrator.maxFollowUps)
        let unread = diagnosis.findings.filter { $0.summary.hasSuffix("no log line") }.map(\.summary)
        let expected: [String] = ["pod api-9: no log line", "pod api-10: no log line"]
        #expect(unread == expected)
        #expect(diagnosis.problems.contains("2 follow-up read(s) not run: at most 8 per diagnosis"))
    }
}
