import HelpdeskCore

/// ReplicaSets, nodes, claims and Jobs in the fields rules join pods with.
extension KubernetesSummaries {
    /// Set by the Deployment controller on each ReplicaSet: the rollout revision it belongs to.
    static let revisionAnnotation = "deployment.kubernetes.io/revision"

    /// Each ReplicaSet with its Deployment and revision; the newest of a Deployment (`current`) also
    /// says which revision came before it and whether that one had pods available, so a rule can tell
    /// "crashing since the new revision, the previous one ran" and name the revision to go back to.
    static func replicaSets(_ items: [JSONValue]) -> [JSONValue] {
        struct Entry {
            var summary: [String: JSONValue]
            var deployment: String?
            var revision: Int64?
        }
        let entries = items.map { item -> Entry in
            let owner = (item.value(at: "metadata.ownerReferences")?.arrayValue ?? []).first {
                $0["controller"] == .bool(true) && $0["kind"] == .string("Deployment")
            }
            var deployment: String?
            if case .string(let name)? = owner?["name"] { deployment = name }
            // The annotation's key holds dots, so it is read by subscripts, not by a dotted path.
            var revision: Int64?
            if case .string(let text)? = item["metadata"]?["annotations"]?[revisionAnnotation] { revision = Int64(text) }
            let summary: [String: JSONValue] = [
                "name": item.value(at: "metadata.name") ?? .null,
                "deployment": deployment.map(JSONValue.string) ?? .null,
                "revision": revision.map { JSONValue.number(Double($0)) } ?? .null,
                "desired": count(item.value(at: "spec.replicas"), default: 1),
                "ready": count(item.value(at: "status.readyReplicas")),
                "available": count(item.value(at: "status.availableReplicas")),
                "image": item.value(at: "spec.template.spec.containers")?.arrayValue?.first?["image"] ?? .null,
                "created": item.value(at: "metadata.creationTimestamp") ?? .null,
            ]
            return Entry(summary: summary, deployment: deployment, revision: revision)
        }
        return entries.map { entry -> JSONValue in
            var summary = entry.summary
            let siblings = entries.filter { $0.deployment != nil && $0.deployment == entry.deployment && $0.revision != nil }
            let newest = siblings.compactMap(\.revision).max()
            var previous: Entry?
            if entry.deployment != nil, let revision = entry.revision, revision == newest {
                previous = siblings.filter { ($0.revision ?? 0) < revision }.max { ($0.revision ?? 0) < ($1.revision ?? 0) }
                summary["current"] = .bool(true)
            } else {
                summary["current"] = .bool(false)
            }
            summary["previous_revision"] = previous?.revision.map { JSONValue.number(Double($0)) } ?? .null
            summary["previous_available"] = previous.map { $0.summary["available"] ?? .number(0) } ?? .null
            summary["previous_image"] = previous.map { $0.summary["image"] ?? .null } ?? .null
            return .object(summary)
        }
    }

    /// The pressure conditions a kubelet sets; `pressure` lists those that are True, in the node's order.
    static let pressures: Set<String> = ["DiskPressure", "MemoryPressure", "PIDPressure"]

    static func node(_ node: JSONValue) -> JSONValue {
        let conditions = node.value(at: "status.conditions")?.arrayValue ?? []
        let pressed = conditions.filter { condition in
            guard case .string(let type)? = condition["type"] else { return false }
            return pressures.contains(type) && condition["status"] == .string("True")
        }
        return .object([
            "name": node.value(at: "metadata.name") ?? .null,
            "ready": .bool(condition(node, "Ready") != nil),
            "pressure": .array(pressed.map { $0["type"] ?? .null }),
            "pressure_message": pressed.first?["message"] ?? .null,
            "unschedulable": .bool(node.value(at: "spec.unschedulable") == .bool(true)),
            "allocatable_cpu": text(node.value(at: "status.allocatable.cpu")),
            "allocatable_memory": text(node.value(at: "status.allocatable.memory")),
        ])
    }

    static func claim(_ claim: JSONValue) -> JSONValue {
        .object([
            "name": claim.value(at: "metadata.name") ?? .null,
            "phase": claim.value(at: "status.phase") ?? .null,
            "storage_class": claim.value(at: "spec.storageClassName") ?? .null,
            "requested": text(claim.value(at: "spec.resources.requests.storage")),
            "capacity": text(claim.value(at: "status.capacity.storage")),
            "volume": claim.value(at: "spec.volumeName") ?? .null,
        ])
    }

    /// A Job's counts and, once it gave up, why (`BackoffLimitExceeded`, `DeadlineExceeded`).
    static func job(_ job: JSONValue) -> JSONValue {
        let failed = condition(job, "Failed")
        return .object([
            "name": job.value(at: "metadata.name") ?? .null,
            "active": count(job.value(at: "status.active")),
            "succeeded": count(job.value(at: "status.succeeded")),
            "failed": count(job.value(at: "status.failed")),
            // Kubernetes' default when the spec leaves it out.
            "backoff_limit": count(job.value(at: "spec.backoffLimit"), default: 6),
            "complete": .bool(condition(job, "Complete") != nil),
            "failed_reason": failed?["reason"] ?? .null,
            "failed_message": failed?["message"] ?? .null,
            "started": job.value(at: "status.startTime") ?? .null,
        ])
    }
}
