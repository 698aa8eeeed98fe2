import HelpdeskAgents
import HelpdeskConfig
import HelpdeskOrchestrator

/// What an alert asks to diagnose: its inventory target, read from its labels, and for a cluster the
/// namespace it is about. One place for the alert bot and `helpdesk diagnose --alert`, so the zoo's
/// alert triggers exercise the mapping alerts really get.
public struct AlertTargeting: Sendable {
    let inventory: Infrastructure
    let targetLabels: [String]

    public init(inventory: Infrastructure, targetLabels: [String]) {
        self.inventory = inventory
        self.targetLabels = targetLabels
    }

    /// The first label whose value (or, for `host:port`, its host) names a database, cluster or VM;
    /// else the most telling label value, unresolved.
    public func target(for labels: [String: String]) -> (name: String, known: Bool) {
        let names = Set(inventory.dbServers.map(\.id) + inventory.k8sClusters.map(\.id) + inventory.vms.map(\.id))
        for label in targetLabels {
            guard let value = labels[label] else { continue }
            if names.contains(value) { return (value, true) }
            if let host = value.split(separator: ":").first.map(String.init), names.contains(host) { return (host, true) }
        }
        let guess = targetLabels.lazy.compactMap { labels[$0] }.first ?? labels["alertname"] ?? "unknown"
        return (guess, false)
    }

    /// An RFC 1123 label, as Kubernetes names namespaces: lowercase letters, digits and '-', at most 63.
    static func isNamespaceName(_ text: String) -> Bool {
        guard (1...63).contains(text.utf8.count), let first = text.utf8.first, let last = text.utf8.last else { return false }
        let alphanumeric: (UInt8) -> Bool = { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        return alphanumeric(first) && alphanumeric(last) && text.utf8.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// The diagnosis an alert starts, decided as the alert bot. A cluster is looked at in the alert's
    /// `namespace` label (Kubernetes alerts carry it), without which a cluster cannot be diagnosed.
    /// The labels and the `summary` annotation go along for the model's briefing.
    public func request(labels: [String: String], annotations: [String: String], via: String = "alert") -> DiagnosisRequest {
        let target = target(for: labels).name
        let isCluster = inventory.k8sClusters.contains { $0.id == target }
        // Outside data: only a valid Kubernetes name is used (the diagnosis then says which namespace is missing).
        let namespace = isCluster ? labels["namespace"].flatMap { Self.isNamespaceName($0) ? $0 : nil } : nil
        return DiagnosisRequest(target: target, symptom: annotations["summary"], alertName: labels["alertname"], namespace: namespace,
                                alertLabels: labels, principal: .alertBot, via: via)
    }
}
