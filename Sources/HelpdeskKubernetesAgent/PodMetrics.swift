import HelpdeskCore

/// What the metrics API (metrics-server) says pods use now, in the units people compare with limits:
/// memory in Mi (`251Mi`, and bytes), CPU in millicores (`120m`).
enum PodMetrics {
    /// The path `kubectl get --raw` reads for one namespace's PodMetrics.
    static func path(namespace: String) -> String {
        "/apis/metrics.k8s.io/v1beta1/namespaces/\(namespace)/pods"
    }

    /// kubectl's words when the API group is not served: no metrics-server, which is common and not an error.
    static func isNotServed(_ message: String) -> Bool {
        message.contains("(NotFound)") || message.contains("the server could not find the requested resource")
    }

    static func pods(_ list: JSONValue) -> [JSONValue] {
        (list["items"]?.arrayValue ?? []).map { item -> JSONValue in
            let containers = (item["containers"]?.arrayValue ?? []).map { container in
                (name: container["name"] ?? .null,
                 bytes: quantity(container.value(at: "usage.memory")) ?? 0,
                 cores: quantity(container.value(at: "usage.cpu")) ?? 0)
            }
            let bytes = containers.map(\.bytes).reduce(0, +)
            let cores = containers.map(\.cores).reduce(0, +)
            return .object([
                "name": item.value(at: "metadata.name") ?? .null,
                "memory": .string(mebibytes(bytes)),
                "memory_bytes": bytes.isFinite ? .number(bytes.rounded()) : .null,
                "cpu": .string(millicores(cores)),
                "containers": .array(containers.map { container in
                    .object(["name": container.name, "memory": .string(mebibytes(container.bytes)),
                             "memory_bytes": container.bytes.isFinite ? .number(container.bytes.rounded()) : .null, "cpu": .string(millicores(container.cores))])
                }),
            ])
        }
    }

    /// A quantity from the metrics API is outside data: out of range it is shown as unknown, never trapped on.
    static func mebibytes(_ bytes: Double) -> String {
        Int64(exactly: (bytes / 1_048_576).rounded()).map { "\($0)Mi" } ?? "?"
    }

    static func millicores(_ cores: Double) -> String {
        Int64(exactly: (cores * 1000).rounded()).map { "\($0)m" } ?? "?"
    }

    private static let suffixes: [String: Double] = [
        "": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3,
        "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
        "Ki": 1024, "Mi": 1_048_576, "Gi": 1_073_741_824, "Ti": 1_099_511_627_776, "Pi": 1_125_899_906_842_624,
        "Ei": 1_152_921_504_606_846_976,
    ]

    /// A Kubernetes quantity (`262144Ki`, `251Mi`, `120m`, `250000n`, `1`) in base units: bytes or cores.
    static func quantity(_ value: JSONValue?) -> Double? {
        switch value {
        case .number(let number)?:
            return number
        case .string(let text)?:
            let digits = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !digits.isEmpty, let number = Double(digits), let factor = suffixes[String(text.dropFirst(digits.count))] else {
                return nil
            }
            return number * factor
        default:
            return nil
        }
    }
}
