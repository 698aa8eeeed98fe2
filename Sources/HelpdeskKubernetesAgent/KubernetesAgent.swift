import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore

/// Kubernetes tools through `kubectl ... -o json`, run as a subprocess with an argument list.
///
/// A call's target is a cluster from the inventory (with a `namespace` argument), or a database
/// that names its `k8s_cluster` and `k8s_namespace` (and, to tell its pods from the namespace's
/// others, `k8s_pod_selector`), so a database diagnosis can look at its pods.
public struct KubernetesAgent: Agent {
    public let name = KubernetesAgent.agentName
    static let agentName = "kubernetes"
    private let clusters: [String: Infrastructure.KubernetesCluster]
    private let databases: [String: Infrastructure.DatabaseServer]
    private let kubectl: String
    private let environment: [String: String]
    private let timeout: Duration
    private let runner: any CommandRunner

    /// Log lines one call returns at most, and bytes of log text.
    static let maxLogLines = 1000
    static let maxLogBytes = 256 * 1024

    public init(inventory: Infrastructure, environment: [String: String], timeout: Duration, runner: any CommandRunner = ProcessRunner()) {
        clusters = Dictionary(inventory.k8sClusters.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        databases = Dictionary(inventory.dbServers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.environment = environment
        self.timeout = timeout
        self.runner = runner
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        kubectl = path.split(separator: ":").map { "\($0)/kubectl" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/kubectl"
    }

    public var tools: [ToolDescriptor] { Self.descriptors }

    /// The names of ``tools``, the same for every inventory (policy files are checked against them).
    public static var toolNames: [String] { descriptors.map(\.name) }

    private static var descriptors: [ToolDescriptor] {
        let name = agentName
        let namespace = ToolParameter("namespace", .string, "the namespace (default: the target database's k8s_namespace)")
        let pod = ToolParameter("name", .string, required: true, "the pod name")
        let deployment = ToolParameter("name", .string, required: true, "the deployment name")
        return [
            ToolDescriptor(name: "pods", agent: name, action: .read,
                           summary: "Pods with phase, readiness, restarts, waiting reasons, owner, the container that explains "
                               + "their state (image, resources, probe, exit code) and the ConfigMaps, Secrets and claims they use.",
                           parameters: [namespace, ToolParameter("selector", .string,
                                                                 "a label selector such as app=api (default: the target database's k8s_pod_selector; empty: every pod)")]),
            ToolDescriptor(name: "describe_pod", agent: name, action: .read, summary: "One pod in full, with its events.", parameters: [namespace, pod]),
            ToolDescriptor(name: "events", agent: name, action: .read, summary: "Recent events in the namespace, newest first.", parameters: [namespace]),
            ToolDescriptor(name: "pod_logs", agent: name, action: .read,
                           summary: "The last lines of a pod's log, with the line that reads most like the error.",
                           parameters: [namespace, pod, ToolParameter("container", .string, "the container, when the pod has several"),
                                        ToolParameter("tail", .integer, "lines from the end (default 200, at most \(Self.maxLogLines))"),
                                        ToolParameter("previous", .string, "\"true\" for the previous (crashed) container's log")]),
            ToolDescriptor(name: "deployments", agent: name, action: .read, summary: "Deployments with desired, ready and available replicas.",
                           parameters: [namespace]),
            ToolDescriptor(name: "replicasets", agent: name, action: .read,
                           summary: "ReplicaSets with their deployment and revision; the current one names the previous revision "
                               + "and its available pods.",
                           parameters: [namespace]),
            ToolDescriptor(name: "nodes", agent: name, action: .read,
                           summary: "The cluster's nodes: ready, disk/memory/PID pressure, cordoned, allocatable CPU and memory."),
            ToolDescriptor(name: "pvcs", agent: name, action: .read,
                           summary: "PersistentVolumeClaims with phase, storage class, requested size, capacity and volume.",
                           parameters: [namespace]),
            ToolDescriptor(name: "jobs", agent: name, action: .read,
                           summary: "Jobs with active, succeeded and failed pods, backoff limit, and why a failed one gave up.",
                           parameters: [namespace]),
            ToolDescriptor(name: "pod_metrics", agent: name, action: .read,
                           summary: "Memory and CPU each pod uses now, from the metrics API (available: false without metrics-server).",
                           parameters: [namespace]),
            ToolDescriptor(name: "rollout_restart", agent: name, action: .write, summary: "Restart a deployment's pods, one by one.",
                           parameters: [namespace, deployment]),
            ToolDescriptor(name: "rollout_undo", agent: name, action: .write,
                           summary: "Roll a deployment back to an earlier revision (default: the previous one); its pods are replaced.",
                           parameters: [namespace, deployment,
                                        ToolParameter("to_revision", .integer, "the revision to return to (default: the previous one)")]),
            ToolDescriptor(name: "scale", agent: name, action: .write, summary: "Set a deployment's replica count.",
                           parameters: [namespace, deployment, ToolParameter("replicas", .integer, required: true, "the new replica count")]),
        ]
    }

    public func run(_ call: ToolCall) async throws -> JSONValue {
        guard let descriptor = tools.first(where: { $0.name == call.tool }) else {
            throw ToolError("the kubernetes agent has no tool \(call.tool); it has: \(tools.map(\.name).joined(separator: ", "))")
        }
        if let problem = descriptor.validate(call.arguments) { throw ToolError(problem) }
        if call.tool == "nodes" {
            // Cluster-scoped: no namespace, and none needed from a cluster target.
            let cluster = try resolve(call.target).0
            let list = try await json(connectionArguments(cluster) + ["get", "nodes", "-o", "json"])
            return .object(["nodes": .array((list["items"]?.arrayValue ?? []).map(KubernetesSummaries.node))])
        }
        let (base, namespace) = try baseArguments(call)
        switch call.tool {
        case "pods":
            var arguments = ["get", "pods", "-o", "json"]
            // A database's own pods by default, so a diagnosis does not read its neighbours' as its own.
            let databaseSelector = clusters[call.target] == nil ? databases[call.target]?.podSelector : nil
            let selector = call.arguments["selector"]?.description ?? databaseSelector
            if let selector, !selector.isEmpty {
                if let problem = Infrastructure.labelSelectorProblem(selector) { throw ToolError("selector \(problem)") }
                arguments += ["--selector", selector]
            }
            let list = try await json(base + arguments)
            var output: [String: JSONValue] = ["namespace": .string(namespace),
                                               "pods": .array((list["items"]?.arrayValue ?? []).map(KubernetesSummaries.pod))]
            if let selector, !selector.isEmpty { output["selector"] = .string(selector) }
            return .object(output)
        case "describe_pod":
            let name = try Self.validName(call.arguments["name"]?.description, what: "pod name", maxLength: 253)
            let pod = try await json(base + ["get", "pod", name, "-o", "json"])
            let events = try await json(base + ["get", "events", "-o", "json", "--field-selector", "involvedObject.name=\(name)"])
            // Environment values (and Secrets' through them) never leave: names and references only.
            return .object(["summary": KubernetesSummaries.pod(pod), "pod": PodEnvironmentRedaction.namesOnly(pod),
                            "events": .array(KubernetesSummaries.events(events["items"]?.arrayValue ?? []))])
        case "events":
            let list = try await json(base + ["get", "events", "-o", "json"])
            return .object(["namespace": .string(namespace), "events": .array(KubernetesSummaries.events(list["items"]?.arrayValue ?? []))])
        case "pod_logs":
            let name = try Self.validName(call.arguments["name"]?.description, what: "pod name", maxLength: 253)
            let tail = min(max(call.integer("tail") ?? 200, 1), Int64(Self.maxLogLines))
            var arguments = ["logs", name, "--tail=\(tail)"]
            if let container = call.arguments["container"]?.description {
                arguments += ["--container", try Self.validName(container, what: "container name", maxLength: 63)]
            }
            if call.arguments["previous"]?.description == "true" { arguments.append("--previous") }
            let output = try await kubectlRun(base + arguments)
            let truncated = output.stdout.count > Self.maxLogBytes
            let text = String(decoding: output.stdout.suffix(Self.maxLogBytes), as: UTF8.self)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var fields: [String: JSONValue] = ["pod": .string(name), "lines": .array(lines.map(JSONValue.string)), "truncated": .bool(truncated)]
            fields.merge(PodLogKeyLines.fields(lines)) { _, new in new }
            return .object(fields)
        case "deployments":
            let list = try await json(base + ["get", "deployments", "-o", "json"])
            return .object(["namespace": .string(namespace),
                            "deployments": .array((list["items"]?.arrayValue ?? []).map(KubernetesSummaries.deployment))])
        case "replicasets":
            let list = try await json(base + ["get", "replicasets", "-o", "json"])
            return .object(["namespace": .string(namespace),
                            "replicasets": .array(KubernetesSummaries.replicaSets(list["items"]?.arrayValue ?? []))])
        case "pvcs":
            let list = try await json(base + ["get", "persistentvolumeclaims", "-o", "json"])
            return .object(["namespace": .string(namespace), "claims": .array((list["items"]?.arrayValue ?? []).map(KubernetesSummaries.claim))])
        case "jobs":
            let list = try await json(base + ["get", "jobs", "-o", "json"])
            return .object(["namespace": .string(namespace), "jobs": .array((list["items"]?.arrayValue ?? []).map(KubernetesSummaries.job))])
        case "pod_metrics":
            return try await podMetrics(call, namespace: namespace)
        case "rollout_undo":
            let name = try Self.validName(call.arguments["name"]?.description, what: "deployment name", maxLength: 253)
            let revision = try Self.undoRevision(call)
            var arguments = base + ["rollout", "undo", "deployment/\(name)"]
            if let revision { arguments.append("--to-revision=\(revision)") }
            let output = try await kubectlRun(arguments)
            return .object(["deployment": .string(name), "to_revision": revision.map { JSONValue.number(Double($0)) } ?? .null,
                            "output": .string(String(decoding: output.stdout, as: UTF8.self))])
        case "rollout_restart":
            let name = try Self.validName(call.arguments["name"]?.description, what: "deployment name", maxLength: 253)
            let output = try await kubectlRun(base + ["rollout", "restart", "deployment/\(name)"])
            return .object(["deployment": .string(name), "restarted": .bool(true), "output": .string(String(decoding: output.stdout, as: UTF8.self))])
        case "scale":
            let name = try Self.validName(call.arguments["name"]?.description, what: "deployment name", maxLength: 253)
            guard let replicas = call.integer("replicas"), (0...1000).contains(replicas) else { throw ToolError("replicas must be 0 to 1000") }
            let output = try await kubectlRun(base + ["scale", "deployment/\(name)", "--replicas=\(replicas)"])
            return .object(["deployment": .string(name), "replicas": .number(Double(replicas)), "output": .string(String(decoding: output.stdout, as: UTF8.self))])
        default:
            throw ToolError("the kubernetes agent has no tool \(call.tool)")
        }
    }

    /// PodMetrics through `kubectl get --raw` (kubectl has no resource name for them without discovery
    /// of the metrics API); a cluster without metrics-server answers NotFound, which is no failure.
    private func podMetrics(_ call: ToolCall, namespace: String) async throws -> JSONValue {
        let cluster = try resolve(call.target).0
        let arguments = connectionArguments(cluster) + ["get", "--raw", PodMetrics.path(namespace: namespace)]
        let list: JSONValue
        do {
            list = try await json(arguments)
        } catch let error as ToolError where PodMetrics.isNotServed(error.message) {
            return .object(["namespace": .string(namespace), "available": .bool(false), "pods": .array([]),
                            "reason": .string("the metrics API (metrics.k8s.io) is not served here, so no metrics-server runs: "
                                              + error.message)])
        }
        return .object(["namespace": .string(namespace), "available": .bool(true), "pods": .array(PodMetrics.pods(list))])
    }

    /// `rollout_undo`'s `to_revision`, `nil` for the previous revision (kubectl's default).
    static func undoRevision(_ call: ToolCall) throws -> Int64? {
        guard call.arguments["to_revision"] != nil else { return nil }
        guard let revision = call.integer("to_revision"), (1...1_000_000).contains(revision) else {
            throw ToolError("to_revision must be a revision number from 1 to 1000000")
        }
        return revision
    }

    public func applies(to target: String) -> Bool {
        (try? resolve(target)) != nil
    }

    /// kubectl's connection arguments and `--namespace` for a call, and the namespace.
    func baseArguments(_ call: ToolCall) throws -> (arguments: [String], namespace: String) {
        let (cluster, defaultNamespace) = try resolve(call.target)
        let namespace = try Self.validName(call.arguments["namespace"]?.description ?? defaultNamespace, what: "namespace", maxLength: 63)
        return (connectionArguments(cluster) + ["--namespace", namespace], namespace)
    }

    /// The cluster for a target, and the namespace it implies.
    func resolve(_ target: String) throws -> (Infrastructure.KubernetesCluster, String?) {
        if let cluster = clusters[target] { return (cluster, nil) }
        if let database = databases[target], let clusterID = database.k8sCluster, let cluster = clusters[clusterID] {
            return (cluster, database.k8sNamespace)
        }
        if databases[target] != nil {
            throw ToolError("\(target) names no k8s_cluster in the inventory, so it has no Kubernetes side to look at")
        }
        throw ToolError("\(target) is not a Kubernetes cluster in the inventory; known: \(clusters.keys.sorted().joined(separator: ", "))")
    }

    func connectionArguments(_ cluster: Infrastructure.KubernetesCluster) -> [String] {
        var arguments = ["--request-timeout=\(max(1, Int(timeout.seconds)))s"]
        if let kubeconfig = cluster.kubeconfig, !kubeconfig.isEmpty { arguments += ["--kubeconfig", kubeconfig] }
        if let context = cluster.context, !context.isEmpty { arguments += ["--context", context] }
        return arguments
    }

    func kubectlRun(_ arguments: [String]) async throws -> CommandOutput {
        let output = try await runner.run(kubectl, arguments, environment: environment, timeout: timeout + .seconds(2))
        guard output.status == 0 else {
            let message = output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw ToolError("kubectl failed: " + (message.isEmpty ? "exit status \(output.status)" : String(message.prefix(1000))))
        }
        return output
    }

    func json(_ arguments: [String]) async throws -> JSONValue {
        let output = try await kubectlRun(arguments)
        do {
            return try JSONDecoder().decode(JSONValue.self, from: output.stdout)
        } catch {
            throw ToolError("kubectl did not print JSON: \(String(decoding: output.stdout.prefix(200), as: UTF8.self))")
        }
    }

    /// Kubernetes object names (RFC 1123 labels and subdomains): no way to smuggle a flag or path.
    static func validName(_ value: String?, what: String, maxLength: Int) throws -> String {
        guard let value, !value.isEmpty else { throw ToolError("\(what) is required") }
        let allowed = value.allSatisfy { ($0.isLowercase && $0.isASCII) || ($0.isNumber && $0.isASCII) || $0 == "-" || $0 == "." }
        guard allowed, value.count <= maxLength, value.first?.isLetter == true || value.first?.isNumber == true,
              value.last?.isLetter == true || value.last?.isNumber == true
        else {
            throw ToolError("\(what) \"\(value)\" is not a valid Kubernetes name (lowercase letters, digits, '-' and '.', at most \(maxLength))")
        }
        return value
    }
}
