import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskDatabaseAgent
import HelpdeskTestSupport
import Testing

/// `infrastructure.file`: an aiHelpDesk inventory loads unchanged, read by the same code as inline
/// entries. The fixtures are this project's own, in aiHelpDesk's format, with every key its files use.
@Suite struct InventoryFileTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/aihelpdesk").path
    static let inventory = fixtures + "/infrastructure.json"
    static let kubernetesInventory = fixtures + "/infrastructure-k8s.json"
    static let billingPassword = "b1ll!ng-s3cret"

    private func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> HelpdeskConfiguration {
        try HelpdeskConfiguration(yaml: yaml, file: "helpdesk.yaml", environment: environment)
    }

    private func issues(_ yaml: String, environment: [String: String] = [:]) -> [ConfigIssue] {
        configurationIssues(yaml, file: "helpdesk.yaml", environment: environment)
    }

    private func fixture(environment: [String: String] = ["BILLING_PG_PASSWORD": InventoryFileTests.billingPassword]) throws -> HelpdeskConfiguration {
        try load("infrastructure:\n  file: \(Self.inventory)\n", environment: environment)
    }

    // MARK: The fixtures

    @Test func aiHelpDeskInventoryLoadsWithOneWarningPerSysadminKey() throws {
        let configuration = try fixture()
        let inventory = configuration.infrastructure
        #expect(inventory.file == Self.inventory)
        #expect(inventory.dbServers.map(\.id) == ["billing-primary", "catalog-staging", "ledger-podman", "reports-systemd", "scratch-local"])
        #expect(inventory.k8sClusters.map(\.id) == ["east-prod", "west-stage"])
        #expect(inventory.vms.map(\.id) == ["dc1-ledger", "dc1-reports", "dc1-archive"])
        let file = Self.inventory
        #expect(configuration.warnings.map(\.description) == [
            "\(file):27: db_servers.ledger-podman.container_name: ignored: this project does not manage containers (aiHelpDesk's sysadmin agent does)",
            "\(file):34: db_servers.reports-systemd.systemd_unit: ignored: this project does not manage systemd units (aiHelpDesk's sysadmin agent does)",
            "\(file):64: vms.dc1-ledger.runtime: ignored: this project does not manage containers or services on hosts (aiHelpDesk's sysadmin agent does)",
            "\(file):69: vms.dc1-reports.runtime: ignored: this project does not manage containers or services on hosts (aiHelpDesk's sysadmin agent does)",
        ])
    }

    @Test func addressIsReadAsHost() throws {
        let vms = try fixture().infrastructure.vms
        #expect(vms.map(\.host) == ["ledger.dc1.internal.test", "reports.dc1.internal.test", "archive.dc1.internal.test"])
    }

    @Test func overrideRolesSensitivityAndNamespaceWithoutClusterAreRead() throws {
        let inventory = try fixture().infrastructure
        let billing = try #require(inventory.dbServers.first { $0.id == "billing-primary" })
        #expect(billing.approvalOverrideRoles == ["billing_dba", "oncall_lead"])
        #expect(billing.sensitivity == ["pci"])
        #expect(billing.k8sCluster == "east-prod" && billing.k8sNamespace == "billing")
        #expect(inventory.k8sClusters.first?.sensitivity == ["pci"])
        let scratch = try #require(inventory.dbServers.first { $0.id == "scratch-local" })
        #expect(scratch.k8sCluster == nil && scratch.k8sNamespace == "scratch")
        #expect(scratch.approvalOverrideRoles == ["platform_lead"])
        #expect(inventory.dbServers.first { $0.id == "ledger-podman" }?.vmName == "dc1-ledger")
    }

    /// The fixture's `_comment` is one line of over 1000 characters with JSON escapes, followed by
    /// nested lists: the warning after them still names the right line.
    @Test func longCommentAndNestedListsKeepLineNumbers() throws {
        let text = try String(contentsOfFile: Self.kubernetesInventory, encoding: .utf8)
        #expect(text.split(separator: "\n").map(\.count).max() ?? 0 > 1000)
        let configuration = try load("infrastructure:\n  file: \(Self.kubernetesInventory)\n")
        let database = try #require(configuration.infrastructure.dbServers.first)
        #expect(database.id == "payments_pg")
        #expect(database.podSelector == "app.kubernetes.io/name=payments-pg,role!=replica")
        #expect(database.k8sCluster == "lab_kind" && database.k8sNamespace == "payments")
        #expect(configuration.infrastructure.k8sClusters.map(\.context) == ["kind-lab"])
        #expect(configuration.warnings.map(\.description) == [
            "\(Self.kubernetesInventory):11: db_servers.payments_pg.password_env: the environment variable PAYMENTS_PG_PASSWORD is not set, "
                + "so payments_pg connects with the connection string's own password, else PGPASSWORD or the password file",
        ])
    }

    @Test func environmentVariableNamesTheFile() throws {
        let configuration = try load("", environment: ["HELPDESK_INFRASTRUCTURE_FILE": Self.kubernetesInventory,
                                                       "PAYMENTS_PG_PASSWORD": "pay-m3nts"])
        #expect(configuration.infrastructure.file == Self.kubernetesInventory)
        #expect(configuration.infrastructure.dbServers.map(\.id) == ["payments_pg"])
        #expect(configuration.warnings.isEmpty)
    }

    // MARK: password_env

    @Test func passwordEnvIsReadMaskedAndUsedForTheConnection() throws {
        let configuration = try fixture()
        let billing = try #require(configuration.infrastructure.dbServers.first { $0.id == "billing-primary" })
        #expect(billing.passwordVariable == "BILLING_PG_PASSWORD")
        #expect(billing.password?.reveal() == Self.billingPassword)
        #expect(!"\(billing)".contains(Self.billingPassword))
        let redactor = Redactor()
        redactor.register(configuration.secrets)
        #expect(!redactor.redact("connecting with \(Self.billingPassword)").contains(Self.billingPassword))
        let target = try DatabaseTarget.resolve(billing, credentials: .init())
        #expect(target.password == Self.billingPassword)
    }

    @Test func passwordEnvWinsOverTheConnectionStringAndAnUnsetOneFallsBack() throws {
        let yaml = """
            infrastructure:
              db_servers:
                app-db: {connection_string: "host=db user=app password=from-string", password_env: APP_DB_PASSWORD}
            """
        let variableSet = try load(yaml, environment: ["APP_DB_PASSWORD": "from-environment"])
        #expect(try DatabaseTarget.resolve(variableSet.infrastructure.dbServers[0], credentials: .init()).password == "from-environment")
        #expect(variableSet.warnings.isEmpty)
        let unset = try load(yaml)
        #expect(try DatabaseTarget.resolve(unset.infrastructure.dbServers[0], credentials: .init()).password == "from-string")
        #expect(unset.warnings.map(\.keyPath) == ["infrastructure.db_servers.app-db.password_env"])
        #expect(unset.warnings.first?.line == 3)
        #expect(unset.warnings.first?.message.contains("APP_DB_PASSWORD is not set") == true)
    }

    @Test func passwordEnvMustNameAVariable() {
        let found = issues("infrastructure:\n  db_servers:\n    a: {connection_string: host=db, password_env: \"$PW\"}\n")
        #expect(found.map(\.keyPath) == ["infrastructure.db_servers.a.password_env"])
        #expect(found.first?.message.contains("is not an environment variable name") == true)
    }

    // MARK: disk_capacity

    @Test(arguments: [("64MB", Int64(67_108_864)), ("50GB", 53_687_091_200), ("1TiB", 1_099_511_627_776), ("512Mi", 536_870_912),
                      ("68719476736", 68_719_476_736), ("1.5GiB", 1_610_612_736), ("100G", 100_000_000_000), ("48 mb", 50_331_648)])
    func diskCapacityIsReadInBytes(text: String, bytes: Int64) throws {
        let configuration = try load("infrastructure:\n  db_servers:\n    a: {connection_string: host=db, disk_capacity: \"\(text)\"}\n")
        #expect(configuration.infrastructure.dbServers.first?.diskCapacityBytes == bytes)
    }

    @Test func diskCapacityIsOptionalAndAYAMLNumberIsBytes() throws {
        let configuration = try load("""
            infrastructure:
              db_servers:
                a: {connection_string: host=db}
                b: {connection_string: host=db, disk_capacity: 1073741824}
            """)
        let capacities = configuration.infrastructure.dbServers.map(\.diskCapacityBytes)
        let expected: [Int64?] = [nil, 1_073_741_824]
        #expect(capacities == expected)
    }

    @Test(arguments: ["50 apples", "0", "-5GB", "64m", "1.5", ".5GB", "99999999999999999999TB", "1e9"])
    func aBadDiskCapacityIsAnErrorNamingTheServerAndTheValue(text: String) {
        let found = issues("infrastructure:\n  db_servers:\n    orders: {connection_string: host=db, disk_capacity: \"\(text)\"}\n")
        #expect(found.map(\.keyPath) == ["infrastructure.db_servers.orders.disk_capacity"])
        #expect(found.first?.line == 3)
        #expect(found.first?.message.hasPrefix("\"\(text)\" is not a size (the disk capacity of orders)") == true, "\(found)")
    }

    // MARK: Refusals

    @Test func unknownKeyAfterALongLineIsRefusedWithFileLineAndPath() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("inventory.json", """
            {
              "_comment": "\(String(repeating: "long comment ", count: 120))",
              "_nested": [[1, [2, [3]]], [], [["a"], {"b": [4]}]],
              "db_servers": {
                "orders": {
                  "_note": "ignored",
                  "connection_string": "host=orders.internal.test dbname=orders user=ro",
                  "replica_of": "orders-primary"
                }
              }
            }
            """)
        let found = issues("infrastructure:\n  file: \(path)\n")
        #expect(found.count == 1)
        let issue = try #require(found.first)
        #expect(issue.description.hasPrefix("\(path):8: db_servers.orders.replica_of: unknown key; expected one of:"))
        #expect(!issue.message.contains("_note"), "comment keys are not offered as expected keys")
    }

    @Test func commentKeysAreIgnoredAtEveryLevel() throws {
        let configuration = try load("""
            infrastructure:
              _comment: the inventory
              db_servers:
                _comment: databases below
                orders: {connection_string: host=db, _owner: team-a}
              vms:
                _comment: [hosts, below]
                box: {address: box.internal.test, _rack: r1}
            """)
        #expect(configuration.infrastructure.dbServers.map(\.id) == ["orders"])
        #expect(configuration.infrastructure.vms.map(\.id) == ["box"])
    }

    @Test func inlineEntriesTakeTheSameKeys() throws {
        let configuration = try load("""
            infrastructure:
              k8s_clusters:
                prod: {context: prod}
              vms:
                box: {address: box.internal.test, runtime: docker}
              db_servers:
                orders:
                  connection_string: host=db
                  k8s_cluster: prod
                  k8s_pod_selector: app=orders-pg
                  approval_override_roles: [dba_lead]
                  container_name: orders-pg
                  systemd_unit: postgresql
            """)
        let orders = configuration.infrastructure.dbServers[0]
        #expect(orders.podSelector == "app=orders-pg")
        #expect(orders.approvalOverrideRoles == ["dba_lead"])
        #expect(configuration.infrastructure.vms[0].host == "box.internal.test")
        #expect(configuration.infrastructure.file == nil)
        #expect(configuration.warnings.map { "\($0.line ?? 0) \($0.keyPath)" } == [
            "5 infrastructure.vms.box.runtime",
            "12 infrastructure.db_servers.orders.container_name",
            "13 infrastructure.db_servers.orders.systemd_unit",
        ])
    }

    @Test func hostAndAddressTogetherAreRefused() {
        let found = issues("infrastructure:\n  vms:\n    box: {host: a.internal.test, address: b.internal.test}\n")
        #expect(found.map(\.keyPath) == ["infrastructure.vms.box.address"])
    }

    @Test(arguments: ["app=pg; rm -rf /", "app in (a b)", "app=$(id)"])
    func podSelectorIsCheckedAtLoad(selector: String) {
        let found = issues("infrastructure:\n  db_servers:\n    a: {connection_string: host=db, k8s_pod_selector: \"\(selector)\"}\n")
        #expect(found.map(\.keyPath) == ["infrastructure.db_servers.a.k8s_pod_selector"])
        #expect(found.first?.message.contains("may hold only letters, digits") == true)
    }

    @Test func fileAndInlineEntriesTogetherAreRefused() {
        let yaml = "infrastructure:\n  file: \(Self.inventory)\n  db_servers:\n    orders: {connection_string: host=db}\n"
        let found = issues(yaml, environment: ["BILLING_PG_PASSWORD": "x"])
        #expect(found.map(\.keyPath) == ["infrastructure.db_servers"])
        #expect(found.first?.line == 3)
        #expect(found.first?.message.contains("infrastructure.file names \(Self.inventory)") == true)
        let fromEnvironment = issues("infrastructure:\n  vms:\n    box: {host: box}\n",
                                     environment: ["HELPDESK_INFRASTRUCTURE_FILE": Self.kubernetesInventory])
        #expect(fromEnvironment.map(\.keyPath) == ["infrastructure.vms"])
    }

    @Test func missingFileIsRefusedByName() {
        let found = issues("infrastructure:\n  file: /nonexistent/helpdesk/infrastructure.json\n")
        #expect(found.map(\.keyPath) == ["infrastructure.file"])
        #expect(found.first?.source == "helpdesk.yaml" && found.first?.line == 2)
        #expect(found.first?.message.hasPrefix("cannot read /nonexistent/helpdesk/infrastructure.json") == true)
    }

    @Test func invalidJSONIsRefusedWithTheFileAndLine() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("inventory.json", "{\n  \"db_servers\": {\n    \"a\": {\"connection_string\": \"host=x\" \"tags\": []}\n  }\n}\n")
        let found = issues("infrastructure:\n  file: \(path)\n")
        #expect(found.count == 1)
        #expect(found.first?.source == path && found.first?.line == 3)
        #expect(found.first?.message.hasPrefix("not valid JSON or YAML: ") == true)
    }

    /// Yams quotes the whole document in its duplicate-key error; a connection string may hold a password.
    @Test func parseErrorsNeverQuoteTheFile() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("inventory.json", """
            {
              "db_servers": {
                "a": {"connection_string": "host=x user=u password=hunter22-in-file"},
                "a": {"connection_string": "host=y"}
              }
            }
            """)
        let found = issues("infrastructure:\n  file: \(path)\n")
        #expect(found.count == 1)
        #expect(found.first?.source == path && found.first?.line != nil)
        #expect(found.first?.message.contains("\"a\" appears more than once") == true)
        #expect(!found.map(\.description).joined().contains("hunter22"))
    }
}
