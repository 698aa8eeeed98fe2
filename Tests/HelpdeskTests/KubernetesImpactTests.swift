import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskKubernetesAgent
import Testing

/// What Kubernetes writes say they change, read through kubectl, and pod specs without env values.
@Suite struct KubernetesImpactTests {
    var inventory: Infrastructure {
        var inventory = Infrastructure()
        inventory.k8sClusters = [.init(id: "prod", context: "prod-ctx")]
        return inventory
    }

    func agent(_ runner: RecordingRunner) -> KubernetesAgent {
        KubernetesAgent(inventory: inventory, environment: [:], timeout: .seconds(5), runner: runner)
    }

    static func deployment(desired: Int?, existing: Int) -> String {
        let spec = desired.map { #"{"replicas": \#($0)}"# } ?? "{}"
        return #"{"kind": "Deployment", "metadata": {"name": "api"}, "spec": \#(spec), "status": {"replicas": \#(existing)}}"#
    }

    @Test(arguments: [(1000, 997), (1, 2), (3, 0), (0, 3)])
    func scaleAffectsThePodsAddedOrRemovedFromTheCurrentCount(requested: Int, pods: Int) async throws {
        let runner = RecordingRunner(stdout: Self.deployment(desired: 3, existing: 3))
        let call = ToolCall(tool: "scale", target: "prod",
                            arguments: ["namespace": .string("payments"), "name": .string("api"), "replicas": .number(Double(requested))])
        #expect(try await agent(runner).impact(of: call) == ToolImpact(rows: 0, pods: pods, sessions: 0, transactionAgeSeconds: 0))
        // Sizing reads the deployment and changes nothing.
        #expect(runner.commands == [["--request-timeout=5s", "--context", "prod-ctx", "--namespace", "payments",
                                     "get", "deployment", "api", "-o", "json"]])
    }

    @Test func scaleOfADeploymentWithoutReplicasCountsFromKubernetesDefaultOfOne() async throws {
        let runner = RecordingRunner(stdout: Self.deployment(desired: nil, existing: 1))
        let call = ToolCall(tool: "scale", target: "prod",
                            arguments: ["namespace": .string("web"), "name": .string("api"), "replicas": .number(5)])
        #expect(try await agent(runner).impact(of: call).pods == 4)
    }

    @Test func rolloutRestartAffectsEveryPodTheDeploymentHas() async throws {
        // Mid-rollout a deployment may hold more pods than it wants; all of them are replaced.
        let runner = RecordingRunner(stdout: Self.deployment(desired: 3, existing: 5))
        let call = ToolCall(tool: "rollout_restart", target: "prod", arguments: ["namespace": .string("web"), "name": .string("api")])
        #expect(try await agent(runner).impact(of: call) == ToolImpact(rows: 0, pods: 5, sessions: 0, transactionAgeSeconds: 0))
    }

    @Test func rolloutUndoReplacesEveryPodAsARestartDoes() async throws {
        let runner = RecordingRunner(stdout: Self.deployment(desired: 3, existing: 4))
        let call = ToolCall(tool: "rollout_undo", target: "prod",
                            arguments: ["namespace": .string("web"), "name": .string("api"), "to_revision": .string("4")])
        #expect(try await agent(runner).impact(of: call) == ToolImpact(rows: 0, pods: 4, sessions: 0, transactionAgeSeconds: 0))
    }

    @Test func rolloutUndoGoesToTheRevisionAskedOrThePreviousOne() async throws {
        let runner = RecordingRunner(stdout: "deployment.apps/api rolled back\n")
        let chosen = try await agent(runner).run(ToolCall(tool: "rollout_undo", target: "prod", arguments: [
            "namespace": .string("web"), "name": .string("api"), "to_revision": .string("4")]))
        let previous = try await agent(runner).run(ToolCall(tool: "rollout_undo", target: "prod", arguments: [
            "namespace": .string("web"), "name": .string("api")]))
        #expect(runner.commands == [
            ["--request-timeout=5s", "--context", "prod-ctx", "--namespace", "web", "rollout", "undo", "deployment/api", "--to-revision=4"],
            ["--request-timeout=5s", "--context", "prod-ctx", "--namespace", "web", "rollout", "undo", "deployment/api"],
        ])
        #expect(chosen["deployment"] == .string("api") && chosen["to_revision"] == .number(4))
        #expect(chosen["output"] == .string("deployment.apps/api rolled back\n"))
        #expect(previous["to_revision"] == .null)
    }

    @Test(arguments: [JSONValue.number(0), .number(1_000_001), .string("-1"), .string("latest")])
    func rolloutUndoRefusesARevisionOutOfRangeBeforeAskingKubernetes(revision: JSONValue) async {
        let runner = RecordingRunner(stdout: Self.deployment(desired: 3, existing: 3))
        let call = ToolCall(tool: "rollout_undo", target: "prod",
                            arguments: ["namespace": .string("web"), "name": .string("api"), "to_revision": revision])
        await #expect(throws: ToolError.self) { try await agent(runner).run(call) }
        await #expect(throws: ToolError.self) { try await agent(runner).impact(of: call) }
        #expect(runner.commands.isEmpty)
    }

    @Test func readsChangeNothingAndAskNothing() async throws {
        let runner = RecordingRunner()
        let call = ToolCall(tool: "pods", target: "prod", arguments: ["namespace": .string("web")])
        #expect(try await agent(runner).impact(of: call) == .none)
        #expect(runner.commands.isEmpty)
    }

    @Test func impactRefusesWhatTheToolWouldRefuse() async {
        let runner = RecordingRunner(stdout: Self.deployment(desired: 3, existing: 3))
        let tooMany = ToolCall(tool: "scale", target: "prod",
                               arguments: ["namespace": .string("web"), "name": .string("api"), "replicas": .number(100_000)])
        await #expect(throws: ToolError.self) { try await agent(runner).impact(of: tooMany) }
        let notADeployment = RecordingRunner(stdout: #"{"items": []}"#)
        let call = ToolCall(tool: "scale", target: "prod",
                            arguments: ["namespace": .string("web"), "name": .string("api"), "replicas": .number(2)])
        await #expect(throws: ToolError.self) { try await agent(notADeployment).impact(of: call) }
        #expect(runner.commands.isEmpty)
    }

    @Test func describePodShowsEnvironmentNamesAndReferencesOnly() async throws {
        let lastApplied = #"{\"spec\":{\"containers\":[{\"env\":[{\"name\":\"DB_PASSWORD\",\"value\":\"hunter2-literal\"}]}]}}"#
        let runner = RecordingRunner(stdout: """
            {"kind": "Pod", "metadata": {"name": "api-1", "annotations": {
               "kubectl.kubernetes.io/last-applied-configuration": "\(lastApplied)", "team": "payments"}},
             "spec": {"containers": [{"name": "app", "image": "api:1", "env": [
                {"name": "DB_PASSWORD", "value": "hunter2-literal"},
                {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "api-creds", "key": "key", "optional": false}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "api-config", "key": "mode"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
               "envFrom": [{"secretRef": {"name": "all-creds"}, "prefix": "X_"}]}],
              "initContainers": [{"name": "migrate", "env": [{"name": "DSN", "value": "postgres://app:s3cr3t-init@db/app"}]}]},
             "status": {"phase": "Running"}}
            """)
        let output = try await agent(runner).run(ToolCall(tool: "describe_pod", target: "prod",
                                                           arguments: ["namespace": .string("web"), "name": .string("api-1")]))
        let text = output.jsonText
        #expect(!text.contains("hunter2-literal"))
        #expect(!text.contains("s3cr3t-init"))
        let env = try #require(output.value(at: "pod.spec")?["containers"]?.arrayValue?.first?["env"]?.arrayValue)
        #expect(env == [
            .object(["name": .string("DB_PASSWORD")]),
            .object(["name": .string("API_KEY"),
                     "valueFrom": .object(["secretKeyRef": .object(["name": .string("api-creds"), "key": .string("key")])])]),
            .object(["name": .string("MODE"),
                     "valueFrom": .object(["configMapKeyRef": .object(["name": .string("api-config"), "key": .string("mode")])])]),
            .object(["name": .string("POD_IP"), "valueFrom": .object(["fieldRef": .object(["fieldPath": .string("status.podIP")])])]),
        ])
        #expect(output.value(at: "pod.spec")?["containers"]?.arrayValue?.first?["envFrom"]
            == .array([.object(["secretRef": .object(["name": .string("all-creds")]), "prefix": .string("X_")])]))
        #expect(output.value(at: "pod.spec")?["initContainers"]?.arrayValue?.first?["env"] == .array([.object(["name": .string("DSN")])]))
        // The rest of the pod is as kubectl gave it.
        #expect(output.value(at: "pod.metadata.annotations") == .object(["team": .string("payments")]))
        #expect(output.value(at: "pod.spec")?["containers"]?.arrayValue?.first?["image"] == .string("api:1"))
        #expect(output.value(at: "summary.phase") == .string("Running"))
    }
}
