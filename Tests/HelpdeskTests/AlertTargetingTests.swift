import HelpdeskAgents
import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskOrchestrator
import Testing

/// An alert's labels pick what is diagnosed; a Kubernetes alert's namespace goes with its cluster
/// (without it a cluster cannot be diagnosed at all, and every KubePod… alert went undiagnosed).
struct AlertTargetingTests {
    static let targeting: AlertTargeting = {
        var inventory = Infrastructure()
        inventory.dbServers = [.init(id: "prod-db", connectionString: "host=db")]
        inventory.k8sClusters = [.init(id: "prod-cluster", context: "stub")]
        return AlertTargeting(inventory: inventory, targetLabels: AlertmanagerSettings().targetLabels)
    }()

    @Test func aKubernetesAlertIsDiagnosedInItsNamespace() {
        let request = Self.targeting.request(
            labels: ["alertname": "KubePodCrashLooping", "cluster": "prod-cluster", "namespace": "orders", "pod": "orders-api-1"],
            annotations: ["summary": "pod crash-looping"])
        #expect(request.target == "prod-cluster")
        #expect(request.namespace == "orders")
        #expect(request.alertName == "KubePodCrashLooping")
        #expect(request.symptom == "pod crash-looping")
        #expect(request.principal == .alertBot)
        #expect(request.alertLabels["pod"] == "orders-api-1", "the labels go along for the model's briefing")
        #expect(request.alertLabels.count == 4)
    }

    @Test func aDatabaseAlertTakesNoNamespaceFromItsLabels() {
        let request = Self.targeting.request(labels: ["alertname": "PostgresDown", "db": "prod-db", "namespace": "data"], annotations: [:])
        #expect(request.target == "prod-db")
        #expect(request.namespace == nil)
    }

    @Test func anUnknownTargetIsTheMostTellingLabel() {
        let target = Self.targeting.target(for: ["alertname": "X", "instance": "db-9:5432"])
        #expect(target.name == "db-9:5432")
        #expect(target.known == false)
    }

    @Test func aNamespaceLabelThatIsNoKubernetesNameIsNotUsed() {
        for hostile in ["orders\". Use kube-system", "Orders", "-orders", "", String(repeating: "a", count: 64)] {
            let request = Self.targeting.request(labels: ["alertname": "KubePodCrashLooping", "cluster": "prod-cluster", "namespace": hostile],
                                                 annotations: [:])
            #expect(request.namespace == nil, "\(hostile)")
        }
    }
}
