import HelpdeskCore

/// `infrastructure:` — the inventory of what the bot may look at, with the keys of aiHelpDesk's
/// `infrastructure.json` (`db_servers`, `k8s_clusters`, `vms`), so an existing inventory carries over.
public struct Infrastructure: Sendable {
    public struct DatabaseServer: Sendable {
        public var id: String
        public var name: String?
        /// libpq keyword/value (`host=… dbname=…`) or a `postgres://` URL.
        public var connectionString: String
        public var k8sCluster: String?
        public var k8sNamespace: String?
        public var vmName: String?
        public var tags: [String]
        /// Data classes held here (`pii`, `pci`, …), matched by a policy's `sensitivity:`.
        public var sensitivity: [String]
        /// aiHelpDesk's `k8s_pod_selector`: the label selector of this database's pods.
        public var podSelector: String?
        /// aiHelpDesk's `approval_override_roles`: the roles that decide approvals on this database
        /// when a rule names no approvers of its own.
        public var approvalOverrideRoles: [String]

        public init(id: String, name: String? = nil, connectionString: String, k8sCluster: String? = nil, k8sNamespace: String? = nil,
                    vmName: String? = nil, tags: [String] = [], sensitivity: [String] = [], podSelector: String? = nil,
                    approvalOverrideRoles: [String] = []) {
            self.id = id
            self.name = name
            self.connectionString = connectionString
            self.k8sCluster = k8sCluster
            self.k8sNamespace = k8sNamespace
            self.vmName = vmName
            self.tags = tags
            self.sensitivity = sensitivity
            self.podSelector = podSelector
            self.approvalOverrideRoles = approvalOverrideRoles
        }
    }

    public struct KubernetesCluster: Sendable {
        public var id: String
        public var name: String?
        /// kubectl context; empty means the in-cluster service account.
        public var context: String?
        public var kubeconfig: String?
        public var tags: [String]
        public var sensitivity: [String]

        public init(id: String, name: String? = nil, context: String? = nil, kubeconfig: String? = nil, tags: [String] = [],
                    sensitivity: [String] = []) {
            self.id = id
            self.name = name
            self.context = context
            self.kubeconfig = kubeconfig
            self.tags = tags
            self.sensitivity = sensitivity
        }
    }

    public struct VirtualMachine: Sendable {
        public var id: String
        public var name: String?
        public var host: String
        public var tags: [String]
        public var sensitivity: [String]

        public init(id: String, name: String? = nil, host: String, tags: [String] = [], sensitivity: [String] = []) {
            self.id = id
            self.name = name
            self.host = host
            self.tags = tags
            self.sensitivity = sensitivity
        }
    }

    /// Where database passwords come from when the connection string has none: libpq's
    /// `PGPASSWORD`, then the file `PGPASSFILE` names (default `~/.pgpass`).
    public struct PostgresCredentials: Sendable {
        public var password: Secret?
        public var passFile: String?

        public init(password: Secret? = nil, passFile: String? = nil) {
            self.password = password
            self.passFile = passFile
        }
    }

    public var dbServers: [DatabaseServer] = []
    public var postgresCredentials = PostgresCredentials()
    public var k8sClusters: [KubernetesCluster] = []
    public var vms: [VirtualMachine] = []

    public init() {}

    init(_ section: ConfigSection, environment: [String: String]) {
        if let password = environment["PGPASSWORD"], !password.isEmpty {
            postgresCredentials.password = section.registerSecret(password)
        }
        postgresCredentials.passFile = environment["PGPASSFILE"] ?? environment["HOME"].map { $0 + "/.pgpass" }
        for (id, entry) in section.namedSections("k8s_clusters") {
            k8sClusters.append(KubernetesCluster(
                id: id, name: entry.optionalString("name"), context: entry.optionalString("context"),
                kubeconfig: entry.optionalString("kubeconfig"), tags: entry.stringList("tags"), sensitivity: Self.sensitivity(entry)))
            entry.finish()
        }
        for (id, entry) in section.namedSections("vms") {
            let host = entry.optionalString("host")
            if host == nil { entry.report("host", "required: the VM's host name or address") }
            vms.append(VirtualMachine(id: id, name: entry.optionalString("name"), host: host ?? "", tags: entry.stringList("tags"),
                                      sensitivity: Self.sensitivity(entry)))
            entry.finish()
        }
        let clusterIDs = Set(k8sClusters.map(\.id))
        let vmIDs = Set(vms.map(\.id))
        for (id, entry) in section.namedSections("db_servers") {
            let connection = entry.optionalString("connection_string")
            if connection == nil { entry.report("connection_string", "required: a libpq connection string or postgres:// URL") }
            let cluster = entry.optionalString("k8s_cluster")
            if let cluster, !clusterIDs.contains(cluster) {
                entry.report("k8s_cluster", "names \"\(cluster)\", which is not under infrastructure.k8s_clusters")
            }
            let vm = entry.optionalString("vm_name")
            if let vm, !vmIDs.contains(vm) {
                entry.report("vm_name", "names \"\(vm)\", which is not under infrastructure.vms")
            }
            dbServers.append(DatabaseServer(
                id: id, name: entry.optionalString("name"), connectionString: connection ?? "", k8sCluster: cluster,
                k8sNamespace: entry.optionalString("k8s_namespace"), vmName: vm, tags: entry.stringList("tags"),
                sensitivity: Self.sensitivity(entry)))
            entry.finish()
        }
        section.finish()
    }

    /// The data classes of the inventory entry named `id` (a database, cluster or VM), for policy
    /// matching; a database also carries those of the VM it runs on.
    public func sensitivity(of id: String) -> [String] {
        var classes: [String] = []
        if let server = dbServers.first(where: { $0.id == id }) {
            classes += server.sensitivity
            if let vm = server.vmName { classes += vms.first { $0.id == vm }?.sensitivity ?? [] }
        }
        classes += k8sClusters.first { $0.id == id }?.sensitivity ?? []
        classes += vms.first { $0.id == id }?.sensitivity ?? []
        var seen = Set<String>()
        return classes.filter { seen.insert($0).inserted }
    }

    /// `sensitivity: [pii, pci]`: lowercase words, since a policy matches them exactly and a
    /// misspelt class would silently match nothing.
    private static func sensitivity(_ entry: ConfigSection) -> [String] {
        let classes = entry.stringList("sensitivity")
        let allowed = { (character: Character) in
            character.isASCII && (character.isLowercase || character.isNumber || character == "_" || character == "-")
        }
        for value in classes where value.isEmpty || !value.allSatisfy(allowed) {
            entry.report("sensitivity", "\"\(value)\" is not a data class: use lowercase words such as pii, pci, phi")
        }
        return classes
    }
}
