import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
@testable import HelpdeskKubernetesAgent
import Testing

/// Fails every command with kubectl's message, as kubectl does when the API server refuses.
final class FailingRunner: CommandRunner {
    let stderr: String

    init(stderr: String) {
        self.stderr = stderr
    }

    func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration) async throws -> CommandOutput {
        CommandOutput(status: 1, stdout: Data(), stderr: stderr)
    }
}

/// The fields rules join pods with, and the reads added for them (kubectl faked by a CommandRunner).
@Suite struct KubernetesReadToolTests {
    var inventory: Infrastructure {
        var inventory = Infrastructure()
        inventory.k8sClusters = [.init(id: "prod", context: "prod-ctx")]
        return inventory
    }

    func agent(_ runner: any CommandRunner) -> KubernetesAgent {
        KubernetesAgent(inventory: inventory, environment: [:], timeout: .seconds(5), runner: runner)
    }

    func run(_ tool: String, stdout: String, _ arguments: [String: JSONValue] = ["namespace": .string("orders")]) async throws -> JSONValue {
        try await agent(RecordingRunner(stdout: stdout)).run(ToolCall(tool: tool, target: "prod", arguments: arguments))
    }

    static let crashingPod = """
        {"items": [{
          "metadata": {"name": "orders-api-7c9d8f6b5-x2x9z",
                       "ownerReferences": [{"kind": "ReplicaSet", "name": "orders-api-7c9d8f6b5", "controller": true, "uid": "u1"}]},
          "spec": {"nodeName": "worker-1",
            "volumes": [{"name": "config", "configMap": {"name": "orders-config"}},
                        {"name": "tls", "secret": {"secretName": "orders-tls"}},
                        {"name": "bundle", "projected": {"sources": [{"configMap": {"name": "ca-bundle"}}, {"secret": {"name": "api-token"}}]}},
                        {"name": "data", "persistentVolumeClaim": {"claimName": "orders-data"}}],
            "initContainers": [{"name": "migrate", "image": "orders-migrate:1.5.0",
                                "envFrom": [{"configMapRef": {"name": "migrate-settings"}}]}],
            "containers": [
              {"name": "proxy", "image": "envoy:1.30", "ports": [{"containerPort": 9901}]},
              {"name": "api", "image": "registry.example/orders-api:1.5.0",
               "ports": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090}],
               "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}, "requests": {"memory": "128Mi", "cpu": 1}},
               "readinessProbe": {"httpGet": {"port": 8081, "path": "/ready"}},
               "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}},
                       {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "orders-config", "key": "mode"}}}],
               "envFrom": [{"secretRef": {"name": "api-keys"}}]}]},
          "status": {"phase": "Running",
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
            "containerStatuses": [
              {"name": "proxy", "ready": true, "restartCount": 0, "state": {"running": {}}},
              {"name": "api", "ready": false, "restartCount": 6,
               "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=api"}},
               "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}}]}
        """

    @Test func podNamesItsOwnerTheContainerThatExplainsItAndWhatItUses() async throws {
        let output = try await run("pods", stdout: Self.crashingPod)
        let pod = try #require(output["pods"]?.arrayValue?.first)
        #expect(pod["owner_kind"] == .string("ReplicaSet"))
        #expect(pod["owner_name"] == .string("orders-api-7c9d8f6b5"))
        #expect(pod["container"] == .string("api"), "the waiting container, not the first")
        #expect(pod["image"] == .string("registry.example/orders-api:1.5.0"))
        #expect(pod["waiting_message"] == .string("back-off 5m0s restarting failed container=api"))
        #expect(pod["last_exit_code"] == .number(1))
        #expect(pod["memory_limit"] == .string("256Mi"))
        #expect(pod["memory_request"] == .string("128Mi"))
        #expect(pod["cpu_limit"] == .string("500m"))
        #expect(pod["cpu_request"] == .string("1"), "a bare number is shown as kubectl would")
        #expect(pod["readiness_probe"] == .string("http-get :8081/ready"))
        let ports: JSONValue = .array([.number(8080), .number(9090)])
        #expect(pod["container_ports"] == ports)
        let configMaps: JSONValue = .array(["ca-bundle", "migrate-settings", "orders-config"].map(JSONValue.string))
        #expect(pod["config_maps"] == configMaps)
        let secrets: JSONValue = .array(["api-keys", "api-token", "db-creds", "orders-tls"].map(JSONValue.string))
        #expect(pod["secrets"] == secrets)
        let claims: JSONValue = .array([.string("orders-data")])
        #expect(pod["claims"] == claims)
        #expect(pod["claim"] == .string("orders-data"))
        #expect(pod["scheduled_reason"] == .null && pod["scheduled_message"] == .null)
        #expect(pod["reason"] == .null)
        // The fields of before are all still there.
        #expect(pod["waiting_reason"] == .string("CrashLoopBackOff") && pod["ready"] == .string("1/2") && pod["restarts"] == .number(6))
        // Secret names survive the gate's redaction: only values are secrets.
        let redacted = Redactor().redact(output)
        #expect(redacted["pods"]?.arrayValue?.first?["secrets"] == secrets)
    }

    @Test func aPendingPodDescribesItsFirstContainerAndWhyItIsNotScheduled() async throws {
        let output = try await run("pods", stdout: """
            {"items": [{"metadata": {"name": "report-builder-0"},
              "spec": {"containers": [{"name": "builder", "image": "report:2", "resources": {"requests": {"cpu": "16"}}}]},
              "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/3 nodes are available: 3 Insufficient cpu."}]}}]}
            """)
        let pod = try #require(output["pods"]?.arrayValue?.first)
        #expect(pod["container"] == .string("builder"))
        #expect(pod["cpu_request"] == .string("16"))
        #expect(pod["memory_limit"] == .null && pod["readiness_probe"] == .null && pod["last_exit_code"] == .null)
        #expect(pod["scheduled_reason"] == .string("Unschedulable"))
        #expect(pod["scheduled_message"] == .string("0/3 nodes are available: 3 Insufficient cpu."))
        #expect(pod["owner_kind"] == .null && pod["claim"] == .null)
        #expect(pod["config_maps"] == .array([]))
    }

    @Test func anEvictedPodKeepsTheKubeletsReasonAndMessage() async throws {
        let output = try await run("pods", stdout: """
            {"items": [{"metadata": {"name": "log-writer-1"}, "spec": {"containers": [{"name": "writer", "image": "w:1"}]},
              "status": {"phase": "Failed", "reason": "Evicted",
                         "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 1Gi, available: 512Mi."}}]}
            """)
        let pod = try #require(output["pods"]?.arrayValue?.first)
        #expect(pod["reason"] == .string("Evicted"))
        #expect(pod["message"] == .string("The node was low on resource: ephemeral-storage. Threshold quantity: 1Gi, available: 512Mi."))
    }

    @Test func aJobPodsExitCodeComesFromItsTerminatedState() async throws {
        let output = try await run("pods", stdout: """
            {"items": [{"metadata": {"name": "nightly-export-abcde", "ownerReferences": [{"kind": "Job", "name": "nightly-export", "controller": true, "uid": "j1"}]},
              "spec": {"containers": [{"name": "export", "image": "export:3"}]},
              "status": {"phase": "Failed", "containerStatuses": [{"name": "export", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"reason": "Error", "exitCode": 2}}}]}}]}
            """)
        let pod = try #require(output["pods"]?.arrayValue?.first)
        #expect(pod["owner_kind"] == .string("Job") && pod["owner_name"] == .string("nightly-export"))
        #expect(pod["last_exit_code"] == .number(2))
    }

    @Test func probesReadInAFewWords() throws {
        func probe(_ json: String) throws -> JSONValue { KubernetesSummaries.probe(try JSONValue(parsing: json)) }
        #expect(try probe(#"{"httpGet": {"port": 8081, "path": "/ready"}}"#) == .string("http-get :8081/ready"))
        #expect(try probe(#"{"httpGet": {"port": "http"}}"#) == .string("http-get :http"))
        #expect(try probe(#"{"tcpSocket": {"port": 5432}}"#) == .string("tcp-socket :5432"))
        #expect(try probe(#"{"grpc": {"port": 9000}}"#) == .string("grpc :9000"))
        #expect(try probe(#"{"exec": {"command": ["pg_isready"]}}"#) == .string("exec"))
        #expect(KubernetesSummaries.probe(nil) == .null)
    }

    static func replicaSet(_ name: String, deployment: String?, revision: Int?, available: Int?, image: String) -> String {
        let owner = deployment.map { #""ownerReferences": [{"kind": "Deployment", "name": "\#($0)", "controller": true, "uid": "d"}],"# } ?? ""
        let annotations = revision.map { #""annotations": {"deployment.kubernetes.io/revision": "\#($0)"},"# } ?? ""
        let status = available.map { #"{"replicas": \#($0), "readyReplicas": \#($0), "availableReplicas": \#($0)}"# } ?? "{}"
        return """
            {"metadata": {\(owner) \(annotations) "name": "\(name)", "creationTimestamp": "2026-11-25T10:00:00Z"},
             "spec": {"replicas": \(available ?? 0), "template": {"spec": {"containers": [{"name": "api", "image": "\(image)"}]}}},
             "status": \(status)}
            """
    }

    @Test func theCurrentReplicaSetNamesThePreviousRevisionAndWhetherItRan() async throws {
        let items = [
            Self.replicaSet("orders-api-5f4b8c7d9", deployment: "orders-api", revision: 4, available: 3, image: "orders-api:1.4.2"),
            Self.replicaSet("orders-api-7c9d8f6b5", deployment: "orders-api", revision: 5, available: nil, image: "orders-api:1.5.0"),
            Self.replicaSet("orders-api-6d5c4b3a2", deployment: "orders-api", revision: 3, available: nil, image: "orders-api:1.4.1"),
            Self.replicaSet("billing-6f7d8c9b1", deployment: "billing", revision: 9, available: 2, image: "billing:9"),
            Self.replicaSet("standalone-abc12", deployment: nil, revision: nil, available: 1, image: "tool:1"),
        ]
        let output = try await run("replicasets", stdout: #"{"items": [\#(items.joined(separator: ","))]}"#)
        let sets = try #require(output["replicasets"]?.arrayValue)
        let byName = Dictionary(uniqueKeysWithValues: sets.map { ($0["name"]?.description ?? "", $0) })
        let current = try #require(byName["orders-api-7c9d8f6b5"])
        #expect(current["deployment"] == .string("orders-api") && current["revision"] == .number(5))
        #expect(current["current"] == .bool(true))
        #expect(current["available"] == .number(0) && current["desired"] == .number(0))
        #expect(current["image"] == .string("orders-api:1.5.0"))
        #expect(current["previous_revision"] == .number(4), "the highest below it, not the oldest")
        #expect(current["previous_available"] == .number(3))
        #expect(current["previous_image"] == .string("orders-api:1.4.2"))
        let old = try #require(byName["orders-api-5f4b8c7d9"])
        #expect(old["current"] == .bool(false) && old["previous_revision"] == .null && old["previous_available"] == .null)
        let onlyOne = try #require(byName["billing-6f7d8c9b1"])
        #expect(onlyOne["current"] == .bool(true) && onlyOne["previous_revision"] == .null && onlyOne["previous_image"] == .null)
        let orphan = try #require(byName["standalone-abc12"])
        #expect(orphan["deployment"] == .null && orphan["revision"] == .null && orphan["current"] == .bool(false))
        #expect(output["namespace"] == .string("orders"))
    }

    @Test func nodesAreReadClusterWideWithTheirPressure() async throws {
        let runner = RecordingRunner(stdout: """
            {"items": [
              {"metadata": {"name": "worker-1"}, "spec": {},
               "status": {"allocatable": {"cpu": "3920m", "memory": "15Gi"}, "conditions": [
                 {"type": "MemoryPressure", "status": "False"}, {"type": "DiskPressure", "status": "False"}, {"type": "Ready", "status": "True"}]}},
              {"metadata": {"name": "worker-2"}, "spec": {"unschedulable": true},
               "status": {"allocatable": {"cpu": "4", "memory": "16Gi"}, "conditions": [
                 {"type": "DiskPressure", "status": "True", "message": "kubelet has disk pressure"},
                 {"type": "PIDPressure", "status": "True", "message": "too many processes"}, {"type": "Ready", "status": "False"}]}}]}
            """)
        let output = try await agent(runner).run(ToolCall(tool: "nodes", target: "prod"))
        #expect(runner.commands == [["--request-timeout=5s", "--context", "prod-ctx", "get", "nodes", "-o", "json"]])
        let nodes = try #require(output["nodes"]?.arrayValue)
        #expect(nodes.count == 2)
        #expect(nodes[0]["ready"] == .bool(true) && nodes[0]["pressure"] == .array([]) && nodes[0]["pressure_message"] == .null)
        #expect(nodes[0]["allocatable_cpu"] == .string("3920m") && nodes[0]["allocatable_memory"] == .string("15Gi"))
        #expect(nodes[0]["unschedulable"] == .bool(false))
        let pressure: JSONValue = .array([.string("DiskPressure"), .string("PIDPressure")])
        #expect(nodes[1]["pressure"] == pressure)
        #expect(nodes[1]["pressure_message"] == .string("kubelet has disk pressure"))
        #expect(nodes[1]["ready"] == .bool(false) && nodes[1]["unschedulable"] == .bool(true))
        // A namespace is no argument of a cluster-wide read.
        await #expect(throws: ToolError.self) {
            try await agent(runner).run(ToolCall(tool: "nodes", target: "prod", arguments: ["namespace": .string("orders")]))
        }
    }

    @Test func claimsAndJobs() async throws {
        let claims = try await run("pvcs", stdout: """
            {"items": [{"metadata": {"name": "orders-cache-data"},
              "spec": {"storageClassName": "fast-ssd", "resources": {"requests": {"storage": "10Gi"}}}, "status": {"phase": "Pending"}},
              {"metadata": {"name": "orders-data"}, "spec": {"storageClassName": "standard", "volumeName": "pv-1",
               "resources": {"requests": {"storage": "5Gi"}}}, "status": {"phase": "Bound", "capacity": {"storage": "5Gi"}}}]}
            """)
        let pending = try #require(claims["claims"]?.arrayValue?.first)
        let expectedPending: JSONValue = .object(["name": .string("orders-cache-data"), "phase": .string("Pending"),
                                                  "storage_class": .string("fast-ssd"), "requested": .string("10Gi"),
                                                  "capacity": .null, "volume": .null])
        #expect(pending == expectedPending)
        #expect(claims["claims"]?.arrayValue?.last?["volume"] == .string("pv-1"))

        let jobs = try await run("jobs", stdout: """
            {"items": [{"metadata": {"name": "nightly-export"}, "spec": {"backoffLimit": 3},
              "status": {"failed": 4, "startTime": "2026-11-25T02:00:00Z", "conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}},
              {"metadata": {"name": "cleanup"}, "spec": {}, "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}]}
            """)
        let failed = try #require(jobs["jobs"]?.arrayValue?.first)
        #expect(failed["failed"] == .number(4) && failed["active"] == .number(0) && failed["succeeded"] == .number(0))
        #expect(failed["backoff_limit"] == .number(3) && failed["complete"] == .bool(false))
        #expect(failed["failed_reason"] == .string("BackoffLimitExceeded"))
        #expect(failed["failed_message"] == .string("Job has reached the specified backoff limit"))
        #expect(failed["started"] == .string("2026-11-25T02:00:00Z"))
        let done = try #require(jobs["jobs"]?.arrayValue?.last)
        #expect(done["complete"] == .bool(true) && done["failed_reason"] == .null && done["backoff_limit"] == .number(6))
    }

    @Test func podMetricsAddUpContainersInMiAndMillicores() async throws {
        let runner = RecordingRunner(stdout: """
            {"kind": "PodMetricsList", "items": [{"metadata": {"name": "orders-worker-1"}, "containers": [
              {"name": "worker", "usage": {"memory": "204800Ki", "cpu": "100m"}},
              {"name": "sidecar", "usage": {"memory": "53477376", "cpu": "20000000n"}}]}]}
            """)
        let output = try await agent(runner).run(ToolCall(tool: "pod_metrics", target: "prod", arguments: ["namespace": .string("orders")]))
        #expect(runner.commands == [["--request-timeout=5s", "--context", "prod-ctx", "get", "--raw",
                                     "/apis/metrics.k8s.io/v1beta1/namespaces/orders/pods"]])
        #expect(output["available"] == .bool(true))
        let pod = try #require(output["pods"]?.arrayValue?.first)
        #expect(pod["name"] == .string("orders-worker-1"))
        #expect(pod["memory"] == .string("251Mi"))
        #expect(pod["memory_bytes"] == .number(263_192_576))
        #expect(pod["cpu"] == .string("120m"))
        let containers = try #require(pod["containers"]?.arrayValue)
        let memory = containers.map { $0["memory"]?.description ?? "" }
        let cpu = containers.map { $0["cpu"]?.description ?? "" }
        let expectedMemory = ["200Mi", "51Mi"]
        let expectedCPU = ["100m", "20m"]
        #expect(memory == expectedMemory)
        #expect(cpu == expectedCPU)
    }

    @Test func withoutMetricsServerPodMetricsSayWhyAndDoNotFail() async throws {
        let runner = FailingRunner(stderr: "Error from server (NotFound): the server could not find the requested resource\n")
        let output = try await agent(runner).run(ToolCall(tool: "pod_metrics", target: "prod", arguments: ["namespace": .string("orders")]))
        #expect(output["available"] == .bool(false))
        #expect(output["pods"] == .array([]))
        #expect(output["reason"]?.description.contains("could not find the requested resource") == true)
        // Any other failure is a failure.
        let forbidden = FailingRunner(stderr: "Error from server (Forbidden): pods.metrics.k8s.io is forbidden")
        await #expect(throws: ToolError.self) {
            try await agent(forbidden).run(ToolCall(tool: "pod_metrics", target: "prod", arguments: ["namespace": .string("orders")]))
        }
    }

    @Test func quantitiesInBaseUnits() {
        #expect(PodMetrics.quantity(.string("256Mi")) == 268_435_456)
        #expect(PodMetrics.quantity(.string("1Gi")) == 1_073_741_824)
        #expect(PodMetrics.quantity(.string("250M")) == 250_000_000)
        #expect(abs((PodMetrics.quantity(.string("1500u")) ?? 0) - 0.0015) < 1e-12)
        #expect(PodMetrics.quantity(.string("2")) == 2)
        #expect(PodMetrics.quantity(.string("12x")) == nil)
        #expect(PodMetrics.quantity(.string("Mi")) == nil)
    }
}
