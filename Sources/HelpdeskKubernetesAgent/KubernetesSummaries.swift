import Foundation
import HelpdeskCore

/// The few fields of kubectl's JSON that a diagnosis reads, so tool results stay small and rules simple.
enum KubernetesSummaries {
    /// `age_seconds`: how long ago the event was last seen, so a rule can tell a warning of now from
    /// one of last week (events live for an hour by default, longer on many clusters).
    static func events(_ items: [JSONValue], now: Date = Date()) -> [JSONValue] {
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let summaries = items.map { event -> JSONValue in
            // The scheduler's events carry `lastTimestamp: null` and only `eventTime` (or a series' last observation).
            let lastSeen = [event.value(at: "series.lastObservedTime"), event["lastTimestamp"], event["eventTime"]]
                .compactMap { $0 }.first { $0 != .null } ?? .null
            var seenAt: Date?
            if case .string(let text) = lastSeen { seenAt = plain.date(from: text) ?? fractional.date(from: text) }
            return .object([
                "type": event["type"] ?? .null,
                "reason": event["reason"] ?? .null,
                "object": .string("\(event.value(at: "involvedObject.kind")?.description ?? "?")/\(event.value(at: "involvedObject.name")?.description ?? "?")"),
                "message": event["message"] ?? .null,
                "count": event["count"] ?? .number(1),
                "last_seen": lastSeen,
                "age_seconds": seenAt.map { .number(max(0, now.timeIntervalSince($0).rounded())) } ?? .null,
            ])
        }
        // Newest first by age (an event without a time last), then as listed.
        return Array(summaries.enumerated().sorted { left, right in
            let (a, b) = (left.element["age_seconds"]?.doubleValue ?? .infinity, right.element["age_seconds"]?.doubleValue ?? .infinity)
            return a != b ? a < b : left.offset < right.offset
        }.map(\.element).prefix(100))
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

    // MARK: Helpers

    /// A quantity or name as text: the API server writes quantities as strings (`"256Mi"`), a
    /// hand-written object may hold a bare number (`cpu: 1`). `null` when unset.
    static func text(_ value: JSONValue?) -> JSONValue {
        switch value {
        case .string(let text)?: .string(text)
        case .number?, .bool?: .string(value?.description ?? "")
        default: .null
        }
    }

    /// A count, `fallback` when unset (status counters are left out while they are 0).
    static func count(_ value: JSONValue?, default fallback: Double = 0) -> JSONValue {
        .number(value?.doubleValue ?? fallback)
    }

    /// Whether `value` is an object: `state.waiting: null` is no waiting state.
    static func isObject(_ value: JSONValue?) -> Bool {
        if case .object? = value { return true }
        return false
    }

    /// The condition of `type` whose status is `True` (or `status`), if any.
    static func condition(_ object: JSONValue, _ type: String, status: String = "True") -> JSONValue? {
        (object.value(at: "status.conditions")?.arrayValue ?? []).first {
            $0["type"] == .string(type) && $0["status"] == .string(status)
        }
    }
}
