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

        public init(id: String, name: String? = nil, connectionString: String, k8sCluster: String? = nil, k8sNamespace: String? = nil,
                    vmName: String? = nil, tags: [String] = []) {
            self.id = id
            self.name = name
            self.connectionString = connectionString
            self.k8sCluster = k8sCluster
            self.k8sNamespace = k8sNamespace
            self.vmName = vmName
            self.tags = tags
        }
    }

    public struct KubernetesCluster: Sendable {
        public var id: String
        public var name: String?
        /// kubectl context; empty means the in-cluster service account.
        public var context: String?
        public var kubeconfig: String?
        public var tags: [String]

        public init(id: String, name: String? = nil, context: String? = nil, kubeconfig: String? = nil, tags: [String] = []) {
            self.id = id
            self.name = name
            self.context = context
            self.kubeconfig = kubeconfig
            self.tags = tags
        }
    }

    public struct VirtualMachine: Sendable {
        public var id: String
        public var name: String?
        public var host: String
        public var tags: [String]
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
                kubeconfig: entry.optionalString("kubeconfig"), tags: entry.stringList("tags")))
            entry.finish()
        }
        for (id, entry) in section.namedSections("vms") {
            let host = entry.optionalString("host")
            if host == nil { entry.report("host", "required: the VM's host name or address") }
            vms.append(VirtualMachine(id: id, name: entry.optionalString("name"), host: host ?? "", tags: entry.stringList("tags")))
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
                k8sNamespace: entry.optionalString("k8s_namespace"), vmName: vm, tags: entry.stringList("tags")))
            entry.finish()
        }
        section.finish()
    }
}
