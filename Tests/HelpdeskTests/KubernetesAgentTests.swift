import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
@testable import HelpdeskKubernetesAgent
import Synchronization
import Testing

/// Records the kubectl command lines instead of running them.
final class RecordingRunner: CommandRunner {
    private let calls = Mutex<[[String]]>([])
    let stdout: String

    init(stdout: String = #"{"items": []}"#) {
        self.stdout = stdout
    }

    var commands: [[String]] { calls.withLock { $0 } }

    func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration) async throws -> CommandOutput {
        calls.withLock { $0.append(arguments) }
        return CommandOutput(status: 0, stdout: Data(stdout.utf8), stderr: "")
    }
}

@Suite struct KubernetesAgentTests {
    var inventory: Infrastructure {
        var inventory = Infrastructure()
        inventory.k8sClusters = [.init(id: "prod", name: nil, context: "prod-ctx", kubeconfig: "/etc/kube/config", tags: [])]
        inventory.dbServers = [.init(id: "orders-db", connectionString: "host=x", k8sCluster: "prod", k8sNamespace: "orders"),
                               .init(id: "vm-db", connectionString: "host=y")]
        return inventory
    }

    @Test func commandLinesCarryClusterContextAndNamespaceAsSeparateArguments() async throws {
        let runner = RecordingRunner()
        let agent = KubernetesAgent(inventory: inventory, environment: [:], timeout: .seconds(5), runner: runner)
        _ = try await agent.run(ToolCall(tool: "pods", target: "prod", arguments: ["namespace": .string("payments"), "selector": .string("app=api")]))
        _ = try await agent.run(ToolCall(tool: "deployments", target: "orders-db"))
        _ = try await agent.run(ToolCall(tool: "rollout_restart", target: "prod", arguments: ["namespace": .string("payments"), "name": .string("api")]))
        #expect(runner.commands == [
            ["--request-timeout=5s", "--kubeconfig", "/etc/kube/config", "--context", "prod-ctx", "--namespace", "payments",
             "get", "pods", "-o", "json", "--selector", "app=api"],
            ["--request-timeout=5s", "--kubeconfig", "/etc/kube/config", "--context", "prod-ctx", "--namespace", "orders",
             "get", "deployments", "-o", "json"],
            ["--request-timeout=5s", "--kubeconfig", "/etc/kube/config", "--context", "prod-ctx", "--namespace", "payments",
             "rollout", "restart", "deployment/api"],
        ])
    }

    @Test(arguments: ["--all-namespaces", "Orders", "a/b", "x;rm", "-n", ""])
    func namesThatCouldBeFlagsOrPathsAreRefused(namespace: String) async {
        let runner = RecordingRunner()
        let agent = KubernetesAgent(inventory: inventory, environment: [:], timeout: .seconds(5), runner: runner)
        await #expect(throws: ToolError.self) {
            try await agent.run(ToolCall(tool: "events", target: "prod", arguments: ["namespace": .string(namespace)]))
        }
        #expect(runner.commands.isEmpty)
    }

    @Test func targetsWithoutAKubernetesSideAreExplained() async {
        let agent = KubernetesAgent(inventory: inventory, environment: [:], timeout: .seconds(5), runner: RecordingRunner())
        #expect(agent.applies(to: "orders-db"))
        #expect(!agent.applies(to: "vm-db"))
        await #expect {
            try await agent.run(ToolCall(tool: "pods", target: "vm-db"))
        } throws: { error in
            "\(error)" == "vm-db names no k8s_cluster in the inventory, so it has no Kubernetes side to look at"
        }
    }

    @Test func podSummariesKeepWhatRulesRead() async throws {
        let runner = RecordingRunner(stdout: """
            {"items": [{"metadata": {"name": "api-1"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running", "containerStatuses": [
              {"ready": false, "restartCount": 7, "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"reason": "OOMKilled"}}},
              {"ready": true, "restartCount": 1, "state": {"running": {}}}]}}]}
            """)
        let agent = KubernetesAgent(inventory: inventory, environment: [:], timeout: .seconds(5), runner: runner)
        let output = try await agent.run(ToolCall(tool: "pods", target: "orders-db"))
        let pod = try #require(output["pods"]?.arrayValue?.first)
        #expect(pod["ready"] == .string("1/2"))
        #expect(pod["restarts"] == .number(8))
        #expect(pod["waiting_reason"] == .string("CrashLoopBackOff"))
        #expect(pod["last_termination_reason"] == .string("OOMKilled"))
        #expect(pod["all_ready"] == .bool(false))
    }

    @Test func podLogsPickTheLastErrorLineMaskedAndCut() async throws {
        let long = "panic: " + String(repeating: "x", count: 400)
        let runner = RecordingRunner(stdout: """
            starting orders-api 1.5.0
            could not connect to postgres://orders:hunter2-db@db:5432/orders
            ERROR: config key payment.endpoint missing in /etc/orders/config.yaml
            shutting down

            """)
        let agent = KubernetesAgent(inventory: inventory, environment: [:], timeout: .seconds(5), runner: runner)
        let call = ToolCall(tool: "pod_logs", target: "prod", arguments: ["namespace": .string("orders"), "name": .string("api-1"),
                                                                           "previous": .string("true")])
        let output = try await agent.run(call)
        #expect(output["key_line"] == .string("ERROR: config key payment.endpoint missing in /etc/orders/config.yaml"))
        let keyLines = (output["key_lines"]?.arrayValue ?? []).map(\.description)
        let expected = ["could not connect to postgres://orders:<redacted>@db:5432/orders",
                        "ERROR: config key payment.endpoint missing in /etc/orders/config.yaml"]
        #expect(keyLines == expected)
        #expect(output["lines"]?.arrayValue?.count == 5, "the lines are as before")

        // Kept whole here: the gate redacts configured secrets after the agent, and only then does a
        // finding cut it (a cut before could leave part of a secret no longer matched).
        let whole = PodLogKeyLines.fields([long, "bye"])
        #expect(whole["key_line"] == .string(long))
        let quiet = PodLogKeyLines.fields(["listening on :8080", "  ", ""])
        #expect(quiet["key_line"] == .string("listening on :8080"), "no error line: the last line written")
        #expect(quiet["key_lines"] == .array([]))
        let empty = PodLogKeyLines.fields([""])
        #expect(empty["key_line"] == .null && empty["key_lines"] == .array([]))
        let many = PodLogKeyLines.fields((1...8).map { "error \($0)" })
        let lastFive = (many["key_lines"]?.arrayValue ?? []).map(\.description)
        let expectedFive = ["error 4", "error 5", "error 6", "error 7", "error 8"]
        #expect(lastFive == expectedFive)
    }
}
