import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskKubernetesAgent
import HelpdeskOrchestrator
import HelpdeskShippedContent
import HelpdeskTestSupport
import Logging
import Testing

/// A database's `k8s_pod_selector` (aiHelpDesk's key) picks its own pods when the `pods` tool is
/// called on it without a `selector`, so a diagnosis does not read its neighbours' pods as its own.
@Suite struct DatabasePodSelectorTests {
    static let selector = "app.kubernetes.io/name=payments-pg,role!=replica"
    static let connection = ["--request-timeout=5s", "--context", "kind-lab", "--namespace", "payments"]

    private func loadInventory() throws -> Infrastructure {
        try HelpdeskConfiguration(yaml: "infrastructure:\n  file: \(InventoryFileTests.kubernetesInventory)\n", file: "helpdesk.yaml",
                                  environment: ["PAYMENTS_PG_PASSWORD": "pay-m3nts"]).infrastructure
    }

    @Test func podsOnADatabaseUseItsSelectorUnlessTheCallNamesOne() async throws {
        let runner = RecordingRunner()
        let agent = KubernetesAgent(inventory: try loadInventory(), environment: [:], timeout: .seconds(5), runner: runner)
        let output = try await agent.run(ToolCall(tool: "pods", target: "payments_pg"))
        #expect(output["selector"] == .string(Self.selector))
        _ = try await agent.run(ToolCall(tool: "pods", target: "payments_pg", arguments: ["selector": .string("app=web")]))
        _ = try await agent.run(ToolCall(tool: "pods", target: "payments_pg", arguments: ["selector": .string("")]))
        _ = try await agent.run(ToolCall(tool: "pods", target: "lab_kind", arguments: ["namespace": .string("payments")]))
        #expect(runner.commands == [
            Self.connection + ["get", "pods", "-o", "json", "--selector", Self.selector],
            Self.connection + ["get", "pods", "-o", "json", "--selector", "app=web"],
            Self.connection + ["get", "pods", "-o", "json"],
            Self.connection + ["get", "pods", "-o", "json"],
        ], "an explicit selector wins, an empty one lists every pod, and a cluster target has no default")
    }

    /// The built-in fallback runbook for databases (postgres-health) lists the database's pods with
    /// no arguments: the selector reaches kubectl through the default.
    @Test func databaseDiagnosisListsOnlyTheDatabasesPods() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let runner = RecordingRunner()
        let inventory = try loadInventory()
        let agent = KubernetesAgent(inventory: inventory, environment: [:], timeout: .seconds(5), runner: runner)
        let orchestrator = Orchestrator(
            runbooks: try RunbookLoader.load(from: ContentLibrary.builtIn()), gate: OpenGate(agents: [agent]), inventory: inventory,
            options: .init(toolTimeout: .seconds(10), bundleDirectory: folder.file("bundles"), bundleRetention: .seconds(86400)),
            store: nil, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let diagnosis = await orchestrator.diagnose(DiagnosisRequest(target: "payments_pg", principal: .tester, via: "test"))
        #expect(diagnosis.runbooks == ["postgres-health"])
        #expect(diagnosis.tools.first { $0.tool == "pods" }?.error == nil)
        #expect(runner.commands == [Self.connection + ["get", "pods", "-o", "json", "--selector", Self.selector]])
    }
}
