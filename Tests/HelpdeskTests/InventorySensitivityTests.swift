import Foundation
import HelpdeskConfig
import Testing

/// `sensitivity:` on inventory entries, which policies match with `sensitivity: [pii]`.
@Suite struct InventorySensitivityTests {
    @Test func everyKindOfEntryCarriesItsDataClasses() throws {
        let configuration = try HelpdeskConfiguration(yaml: """
            infrastructure:
              vms:
                billing-vm: {host: billing.internal, sensitivity: [pci]}
              k8s_clusters:
                prod-cluster: {context: prod, sensitivity: [pii]}
              db_servers:
                orders-db: {connection_string: host=db, sensitivity: [pii, phi]}
                billing-db: {connection_string: host=billing, vm_name: billing-vm, sensitivity: [pii]}
                scratch-db: {connection_string: host=scratch}
            """, file: "test.yaml")
        let inventory = configuration.infrastructure
        #expect(inventory.dbServers.first { $0.id == "orders-db" }?.sensitivity == ["pii", "phi"])
        #expect(inventory.k8sClusters.first?.sensitivity == ["pii"])
        #expect(inventory.vms.first?.sensitivity == ["pci"])
        #expect(inventory.sensitivity(of: "orders-db") == ["pii", "phi"])
        #expect(inventory.sensitivity(of: "billing-db") == ["pii", "pci"], "a database inherits its VM's classes")
        #expect(inventory.sensitivity(of: "prod-cluster") == ["pii"])
        #expect(inventory.sensitivity(of: "scratch-db") == [])
        #expect(inventory.sensitivity(of: "unknown") == [])
    }

    @Test func aClassThatCouldNeverMatchIsAConfigError() {
        do {
            _ = try HelpdeskConfiguration(yaml: """
                infrastructure:
                  db_servers:
                    orders-db: {connection_string: host=db, sensitivity: [PII, "p i i"]}
                """, file: "test.yaml")
            Issue.record("loaded")
        } catch {
            #expect(error.issues.map(\.keyPath) == ["infrastructure.db_servers.orders-db.sensitivity",
                                                    "infrastructure.db_servers.orders-db.sensitivity"])
            #expect(error.issues.first?.message.contains("\"PII\" is not a data class") == true)
        }
    }

    @Test func shippedExampleMarksItsProductionDatabaseAsPII() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("helpdesk.example.yaml"), encoding: .utf8)
        let infrastructure = text.components(separatedBy: "\ninfrastructure:\n")[1].components(separatedBy: "\n\n")[0]
        let configuration = try HelpdeskConfiguration(yaml: "infrastructure:\n" + infrastructure, file: "helpdesk.example.yaml")
        #expect(configuration.infrastructure.sensitivity(of: "prod-db") == ["pii"])
        #expect(configuration.infrastructure.sensitivity(of: "prod-cluster") == ["pii"])
    }
}
