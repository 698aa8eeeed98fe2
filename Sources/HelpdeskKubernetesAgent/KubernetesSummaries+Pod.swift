import HelpdeskCore

/// A pod as a diagnosis reads it: its state, the one container that explains that state, and what the
/// pod depends on (its owner, ConfigMaps, Secrets by name, claims), so a rule can join it with those.
extension KubernetesSummaries {
    static func pod(_ pod: JSONValue) -> JSONValue {
        let statuses = pod.value(at: "status.containerStatuses")?.arrayValue ?? []
        let ready = statuses.filter { $0["ready"] == .bool(true) }.count
        let restarts = statuses.compactMap { $0["restartCount"]?.doubleValue }.reduce(0, +)
        let waiting = statuses.compactMap { $0.value(at: "state.waiting.reason") }
        let lastTerminated = statuses.compactMap { $0.value(at: "lastState.terminated.reason") }
        var fields: [String: JSONValue] = [
            "name": pod.value(at: "metadata.name") ?? .null,
            "phase": pod.value(at: "status.phase") ?? .null,
            "node": pod.value(at: "spec.nodeName") ?? .null,
            "ready": .string("\(ready)/\(statuses.count)"),
            "all_ready": .bool(!statuses.isEmpty && ready == statuses.count),
            "restarts": .number(restarts),
            "waiting_reason": waiting.first ?? .null,
            "last_termination_reason": lastTerminated.first ?? .null,
            "created": pod.value(at: "metadata.creationTimestamp") ?? .null,
        ]
        // The controller is the owner that manages the pod; other references do not make it one of theirs.
        let owner = pod.value(at: "metadata.ownerReferences")?.arrayValue?.first { $0["controller"] == .bool(true) }
        fields["owner_kind"] = owner?["kind"] ?? .null
        fields["owner_name"] = owner?["name"] ?? .null
        // An evicted pod: reason Evicted, message "The node was low on resource: ephemeral-storage. …".
        fields["reason"] = pod.value(at: "status.reason") ?? .null
        fields["message"] = pod.value(at: "status.message") ?? .null

        let containers = pod.value(at: "spec.containers")?.arrayValue ?? []
        let status = explainingStatus(statuses)
        // A pod not yet scheduled has no statuses: its first container is the one to describe.
        let name = status?["name"] ?? containers.first?["name"]
        let spec = containers.first { name != nil && $0["name"] == name }
        fields["container"] = name ?? .null
        fields["image"] = spec?["image"] ?? .null
        fields["waiting_message"] = status?.value(at: "state.waiting.message") ?? .null
        // A Job's pod never restarts: its exit code is in state, not lastState.
        fields["last_exit_code"] = status?.value(at: "lastState.terminated.exitCode")
            ?? status?.value(at: "state.terminated.exitCode") ?? .null
        fields["memory_limit"] = text(spec?.value(at: "resources.limits.memory"))
        fields["memory_request"] = text(spec?.value(at: "resources.requests.memory"))
        fields["cpu_limit"] = text(spec?.value(at: "resources.limits.cpu"))
        fields["cpu_request"] = text(spec?.value(at: "resources.requests.cpu"))
        fields["readiness_probe"] = probe(spec?["readinessProbe"])
        fields["container_ports"] = .array((spec?["ports"]?.arrayValue ?? []).compactMap { port in
            port["containerPort"]?.doubleValue.map(JSONValue.number)
        })

        let uses = references(pod)
        // kube-root-ca.crt is in every pod's service-account volume: naming it says nothing about this pod.
        fields["config_maps"] = .array(uses.configMaps.filter { $0 != "kube-root-ca.crt" }.map(JSONValue.string))
        fields["secrets"] = .array(uses.secrets.map(JSONValue.string))
        fields["claims"] = .array(uses.claims.map(JSONValue.string))
        fields["claim"] = uses.claims.first.map(JSONValue.string) ?? .null
        let unscheduled = condition(pod, "PodScheduled", status: "False")
        fields["scheduled_reason"] = unscheduled?["reason"] ?? .null
        fields["scheduled_message"] = unscheduled?["message"] ?? .null
        return .object(fields)
    }

    /// The container whose status explains the pod: the first waiting, else the first not ready,
    /// else the first that terminated before, else the first.
    static func explainingStatus(_ statuses: [JSONValue]) -> JSONValue? {
        statuses.first { isObject($0.value(at: "state.waiting")) }
            ?? statuses.first { $0["ready"] != .bool(true) }
            ?? statuses.first { isObject($0.value(at: "lastState.terminated")) }
            ?? statuses.first
    }

    /// A readiness probe in a few words: `http-get :8081/ready`, `tcp-socket :5432`, `grpc :9000`, `exec`.
    static func probe(_ probe: JSONValue?) -> JSONValue {
        guard let probe, isObject(probe) else { return .null }
        func port(_ handler: JSONValue) -> String {
            handler["port"].map { $0 == .null ? "" : $0.description } ?? ""
        }
        if let http = probe["httpGet"], isObject(http) {
            var path = ""
            if case .string(let text)? = http["path"] { path = text }
            return .string("http-get :\(port(http))\(path)")
        }
        if let tcp = probe["tcpSocket"], isObject(tcp) { return .string("tcp-socket :\(port(tcp))") }
        if let grpc = probe["grpc"], isObject(grpc) { return .string("grpc :\(port(grpc))") }
        if isObject(probe["exec"]) { return .string("exec") }
        return .null
    }

    /// The ConfigMaps and Secrets the pod reads (volumes, projected volumes, `envFrom`, `env.valueFrom`
    /// of every container), unique and sorted; its claims in volume order. Names only, never values.
    static func references(_ pod: JSONValue) -> (configMaps: [String], secrets: [String], claims: [String]) {
        var configMaps = Set<String>()
        var secrets = Set<String>()
        var claims: [String] = []
        func add(_ value: JSONValue?, to names: inout Set<String>) {
            if case .string(let name)? = value, !name.isEmpty { names.insert(name) }
        }
        for volume in pod.value(at: "spec.volumes")?.arrayValue ?? [] {
            add(volume.value(at: "configMap.name"), to: &configMaps)
            add(volume.value(at: "secret.secretName"), to: &secrets)
            for source in volume.value(at: "projected.sources")?.arrayValue ?? [] {
                add(source.value(at: "configMap.name"), to: &configMaps)
                add(source.value(at: "secret.name"), to: &secrets)
            }
            if case .string(let claim)? = volume.value(at: "persistentVolumeClaim.claimName"), !claim.isEmpty,
               !claims.contains(claim) {
                claims.append(claim)
            }
        }
        let containers = (pod.value(at: "spec.initContainers")?.arrayValue ?? [])
            + (pod.value(at: "spec.containers")?.arrayValue ?? [])
        for container in containers {
            for source in container["envFrom"]?.arrayValue ?? [] {
                add(source.value(at: "configMapRef.name"), to: &configMaps)
                add(source.value(at: "secretRef.name"), to: &secrets)
            }
            for variable in container["env"]?.arrayValue ?? [] {
                add(variable.value(at: "valueFrom.configMapKeyRef.name"), to: &configMaps)
                add(variable.value(at: "valueFrom.secretKeyRef.name"), to: &secrets)
            }
        }
        return (configMaps.sorted(), secrets.sorted(), claims)
    }
}
