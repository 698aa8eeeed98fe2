import HelpdeskCore

/// `infrastructure:` — the inventory of what the bot may look at, with the keys of aiHelpDesk's
/// `infrastructure.json` (`db_servers`, `k8s_clusters`, `vms`), so an existing inventory carries over:
/// inline, or in that file itself (`infrastructure.file`). Reading is in `Infrastructure+Reading.swift`.
public struct Infrastructure: Sendable {
    public struct DatabaseServer: Sendable {
        public var id: String
        public var name: String?
        /// libpq keyword/value (`host=… dbname=…`) or a `postgres://` URL.
        public var connectionString: String
        /// aiHelpDesk's `password_env`: the environment variable that holds the password.
        public var passwordVariable: String?
        /// That variable's value at load, when set; it wins over the connection string's password,
        /// as aiHelpDesk appends it to the string.
        public var password: Secret?
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
        /// `disk_capacity` in bytes: the size of the volume its data and WAL live on. PostgreSQL reports
        /// what it uses, never what is free, so `database_sizes` compares its use with this.
        public var diskCapacityBytes: Int64?

        public init(id: String, name: String? = nil, connectionString: String, k8sCluster: String? = nil, k8sNamespace: String? = nil,
                    vmName: String? = nil, tags: [String] = [], sensitivity: [String] = [], podSelector: String? = nil,
                    approvalOverrideRoles: [String] = [], passwordVariable: String? = nil, password: Secret? = nil,
                    diskCapacityBytes: Int64? = nil) {
            self.id = id
            self.name = name
            self.connectionString = connectionString
            self.passwordVariable = passwordVariable
            self.password = password
            self.k8sCluster = k8sCluster
            self.k8sNamespace = k8sNamespace
            self.vmName = vmName
            self.tags = tags
            self.sensitivity = sensitivity
            self.podSelector = podSelector
            self.approvalOverrideRoles = approvalOverrideRoles
            self.diskCapacityBytes = diskCapacityBytes
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
    /// The aiHelpDesk inventory file the entries came from (`infrastructure.file`), or `nil` when inline.
    public var file: String?

    public init() {}

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

    /// Why `selector` is not a label selector kubectl may be given, or `nil` when it is: only the
    /// characters selectors such as `app=postgres,tier!=cache` use (the `pods` tool's argument and
    /// a database's `k8s_pod_selector` pass the same check).
    public static func labelSelectorProblem(_ selector: String) -> String? {
        selector.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=,!".contains($0) })
            ? nil : "may hold only letters, digits and - _ . / = , !"
    }
}
