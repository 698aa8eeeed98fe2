import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
@testable import HelpdeskOrchestrator
import HelpdeskTestSupport
import Logging
import Testing
import Yams

/// Joins, absorption, supersedes and groups across a diagnosis' rules, through the orchestrator.
@Suite struct RuleEngineTests {
    /// An orchestrator over runbooks given as YAML, whose one fake agent answers each tool as told.
    struct Harness {
        let folder: TemporaryDirectory
        let agent: FakeAgent
        let orchestrator: Orchestrator

        init(_ runbooks: [String], tools: [ToolDescriptor], answers: [String: FakeAgent.Answer]) throws {
            folder = try TemporaryDirectory()
            agent = FakeAgent(tools: tools, answers: answers)
            var inventory = Infrastructure()
            inventory.dbServers = [.init(id: "prod-db", connectionString: "host=x")]
            inventory.k8sClusters = [.init(id: "prod-k8s")]
            let books = try runbooks.map { try YAMLDecoder().decode(Runbook.self, from: $0) }
            orchestrator = Orchestrator(
                runbooks: books, gate: OpenGate(agents: [agent]), inventory: inventory,
                options: .init(toolTimeout: .seconds(10), bundleDirectory: folder.file("bundles"), bundleRetention: .seconds(86400)),
                store: nil, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        }

        func diagnose(_ target: String = "prod-db", namespace: String? = nil) async -> Diagnosis {
            await orchestrator.diagnose(DiagnosisRequest(target: target, symptom: "stuck", namespace: namespace, principal: .tester, via: "test"))
        }
    }

    static let pendingPods = """
        name: pods
        match: {symptoms: [stuck]}
        tools: [{tool: pods}, {tool: events}]
        rules:
          - id: pod-pending
            tool: pods
            each: pods
            join:
              - as: scheduling
                tool: events
                each: events
                where:
                  - {field: object, equals: "Pod/{name}"}
                  - {field: reason, equals: FailedScheduling}
            when: [{field: phase, equals: Pending}]
            severity: warning
            finding: "pod {name} is Pending: {scheduling.message|no FailedScheduling event yet}"
            advice: "lower the pod's requests or add capacity"
          - id: warning-events
            tool: events
            each: events
            when: [{field: type, equals: Warning}]
            severity: warning
            finding: "{object}: {reason}: {message}"
        """

    static func pendingHarness() throws -> Harness {
        let pods = try JSONValue(parsing: """
            {"pods": [{"name": "web-1", "phase": "Pending"}, {"name": "web-2", "phase": "Pending"},
                      {"name": "web-3", "phase": "Running"}, {"name": "web-4", "phase": "Pending"}]}
            """)
        let events = try JSONValue(parsing: """
            {"events": [
              {"object": "Pod/web-2", "reason": "FailedScheduling", "type": "Warning", "message": "0/3 nodes: Insufficient memory"},
              {"object": "Pod/web-1", "reason": "Pulled", "type": "Normal", "message": "pulled"},
              {"object": "Pod/web-1", "reason": "FailedScheduling", "type": "Warning", "message": "0/3 nodes: Insufficient cpu"},
              {"object": "Pod/db-0", "reason": "BackOff", "type": "Warning", "message": "back-off"},
              {"object": "Pod/web-3", "reason": "FailedScheduling", "type": "Warning", "message": "before it ran"}
            ]}
            """)
        return try Harness([pendingPods], tools: [FakeAgent.read("pods"), FakeAgent.read("events")],
                           answers: ["pods": .output(pods), "events": .output(events)])
    }

    @Test func joinPutsInTheFirstElementMatchingTemplateOperands() async throws {
        let harness = try Self.pendingHarness()
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose()
        let pending = diagnosis.findings.filter { $0.rule == "pod-pending" }
        let summaries = pending.map(\.summary)
        let expected: [String] = ["pod web-1 is Pending: 0/3 nodes: Insufficient cpu", "pod web-2 is Pending: 0/3 nodes: Insufficient memory",
                                  "pod web-4 is Pending: no FailedScheduling event yet"]
        #expect(summaries == expected)
        let joined = pending.first?.evidence.value(at: "scheduling.reason")
        #expect(joined == .string("FailedScheduling"), "the joined event is in the evidence")
        #expect(pending.allSatisfy { $0.advice == "lower the pod's requests or add capacity" && $0.count == 1 })
    }

    @Test func anElementAJoinTookInIsNotReportedAgain() async throws {
        let harness = try Self.pendingHarness()
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose()
        let events = diagnosis.findings.filter { $0.rule == "warning-events" }.map(\.summary)
        // web-3 runs, so its finding is not kept and its event, joined but not taken in, is still reported.
        let expected: [String] = ["Pod/db-0: BackOff: back-off", "Pod/web-3: FailedScheduling: before it ran"]
        #expect(events == expected)
    }

    @Test func supersedesDropsTheGenericFindingAboutTheSameElementAcrossRunbooks() async throws {
        let generic = """
            name: generic
            match: {symptoms: [stuck]}
            tools: [{tool: pods}]
            rules:
              - {id: pod-cannot-start, tool: pods, each: pods, when: [{field: waiting_reason, exists: true}], severity: critical,
                 finding: "pod {name} cannot run: {waiting_reason}"}
            """
        let specific = """
            name: specific
            match: {symptoms: [stuck]}
            tools: [{tool: pods}]
            rules:
              - id: crash-after-rollout
                tool: pods
                each: pods
                when: [{field: waiting_reason, equals: CrashLoopBackOff}, {field: new_revision, equals: true}]
                severity: critical
                finding: "pod {name} crashes since the new revision"
                supersedes: [pod-cannot-start]
            """
        let pods = try JSONValue(parsing: """
            {"pods": [{"name": "a", "waiting_reason": "CrashLoopBackOff", "new_revision": true},
                      {"name": "b", "waiting_reason": "ImagePullBackOff"}]}
            """)
        let harness = try Harness([generic, specific], tools: [FakeAgent.read("pods")], answers: ["pods": .output(pods)])
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose()
        let summaries = diagnosis.findings.map(\.summary)
        let expected: [String] = ["pod b cannot run: ImagePullBackOff", "pod a crashes since the new revision"]
        #expect(summaries == expected)
    }

    @Test func twentySessionsOfOneApplicationAreOneFindingAboutTheWorst() async throws {
        let runbook = """
            name: leaks
            match: {symptoms: [stuck]}
            tools: [{tool: idle_in_transaction}]
            rules:
              - id: idle-in-transaction
                tool: idle_in_transaction
                each: sessions
                when: [{field: seconds, at_least: 60}]
                group: {by: [application], worst: seconds, list: pid}
                severity: warning
                finding: "{group.count} sessions of {application} idle in transaction; longest PID {pid} ({seconds}s); PIDs {group.list}"
                recommend: [{tool: terminate_backend, args: {pid: "{pid}"}}]
            """
        var sessions: [JSONValue] = (100...119).map { pid in
            .object(["pid": .number(Double(pid)), "application": .string("billing"), "seconds": .number(pid == 107 ? 900 : Double(pid - 40))])
        }
        sessions.append(.object(["pid": .number(200), "application": .string("cron"), "seconds": .number(30)]))
        sessions.append(.object(["pid": .number(300), "application": .string("etl"), "seconds": .number(70)]))
        let harness = try Harness([runbook], tools: [FakeAgent.read("idle_in_transaction")],
                                  answers: ["idle_in_transaction": .output(.object(["sessions": .array(sessions)]))])
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose()
        let billing = try #require(diagnosis.findings.first)
        let listed = ([107] + (100...119).filter { $0 != 107 }.sorted(by: >)).prefix(10).map { String($0) }.joined(separator: ", ")
        #expect(billing.summary == "20 sessions of billing idle in transaction; longest PID 107 (900s); PIDs \(listed)")
        #expect(billing.count == 20)
        let pids = diagnosis.recommendedActions.map { $0.call.arguments["pid"] }
        let expectedPids: [JSONValue?] = [.number(107), .number(300)]
        #expect(pids == expectedPids, "one action per group, for its worst member")
        let counts = diagnosis.findings.map(\.count)
        let expectedCounts: [Int] = [20, 1]
        #expect(counts == expectedCounts)
        let encoded = try JSONValue(parsing: String(decoding: JSONEncoder().encode(billing), as: UTF8.self))
        #expect(encoded["count"] == .number(20))
        #expect(encoded["advice"] == nil, "no advice, no key")
    }

    @Test func adviceIsInTheMarkdownAndTheModelsBriefing() async throws {
        let harness = try Self.pendingHarness()
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose()
        #expect(diagnosis.markdown.contains("pod web-1 is Pending: 0/3 nodes: Insufficient cpu _(rule pod-pending, from pods)_\n"
            + "  - advice: lower the pod's requests or add capacity\n"))
        let request = DiagnosisRequest(target: "prod-db", symptom: "stuck", principal: .tester, via: "test")
        let briefing = Orchestrator.briefing(diagnosis, request: request, results: [])
        #expect(briefing.contains("- [warning] \"pod web-1 is Pending: 0/3 nodes: Insufficient cpu\"\n  advice: \"lower the pod's requests or add capacity\""))
    }
}
