import HelpdeskCore

/// The few fields of kubectl's JSON that a diagnosis reads, so tool results stay small and rules simple.
enum KubernetesSummaries {
    static func pod(_ pod: JSONValue) -> JSONValue {
        let statuses = pod.value(at: "status.containerStatuses")?.arrayValue ?? []
        let ready = statuses.filter { $0["ready"] == .bool(true) }.count
        let restarts = statuses.compactMap { $0["restartCount"]?.doubleValue }.reduce(0, +)
        let waiting = statuses.compactMap { $0.value(at: "state.waiting.reason") }
        let lastTerminated = statuses.compactMap { $0.value(at: "lastState.terminated.reason") }
        return .object([
            "name": pod.value(at: "metadata.name") ?? .null,
            "phase": pod.value(at: "status.phase") ?? .null,
            "node": pod.value(at: "spec.nodeName") ?? .null,
            "ready": .string("\(ready)/\(statuses.count)"),
            "all_ready": .bool(!statuses.isEmpty && ready == statuses.count),
            "restarts": .number(restarts),
            "waiting_reason": waiting.first ?? .null,
            "last_termination_reason": lastTerminated.first ?? .null,
            "created": pod.value(at: "metadata.creationTimestamp") ?? .null,
        ])
    }

    static func events(_ items: [JSONValue]) -> [JSONValue] {
        let summaries = items.map { event -> JSONValue in
            .object([
                "type": event["type"] ?? .null,
                "reason": event["reason"] ?? .null,
                "object": .string("\(event.value(at: "involvedObject.kind")?.description ?? "?")/\(event.value(at: "involvedObject.name")?.description ?? "?")"),
                "message": event["message"] ?? .null,
                "count": event["count"] ?? .number(1),
                "last_seen": event["lastTimestamp"] ?? event["eventTime"] ?? .null,
            ])
        }
        return Array(summaries.sorted { ($0["last_seen"]?.description ?? "") > ($1["last_seen"]?.description ?? "") }.prefix(100))
    }

    static func deployment(_ deployment: JSONValue) -> JSONValue {
        let desired = deployment.value(at: "spec.replicas")?.doubleValue ?? 1
        let available = deployment.value(at: "status.availableReplicas")?.doubleValue ?? 0
        return .object([
            "name": deployment.value(at: "metadata.name") ?? .null,
            "desired": .number(desired),
            "ready": .number(deployment.value(at: "status.readyReplicas")?.doubleValue ?? 0),
            "available": .number(available),
            "updated": .number(deployment.value(at: "status.updatedReplicas")?.doubleValue ?? 0),
            "unavailable": .number(max(0, desired - available)),
            "conditions": .array((deployment.value(at: "status.conditions")?.arrayValue ?? []).map { condition in
                .object(["type": condition["type"] ?? .null, "status": condition["status"] ?? .null, "reason": condition["reason"] ?? .null,
                         "message": condition["message"] ?? .null])
            }),
        ])
    }
}
