import HelpdeskCore

/// Reading the inventory, inline under `infrastructure:` or from the aiHelpDesk `infrastructure.json`
/// (or YAML) that `infrastructure.file` names. Both go through the same code, so they accept the same
/// keys: aiHelpDesk's (`address`, `k8s_pod_selector`, `approval_override_roles`, `password_env`, …) and
/// this project's (`host`, `kubeconfig`, `sensitivity`, `disk_capacity`). Keys starting with `_` are comments at every
/// level; keys of aiHelpDesk features this project lacks load with a warning; anything else is refused.
extension Infrastructure {
    /// The inventory's lists: with `file`, none of them may also be inline.
    private static let lists = ["db_servers", "k8s_clusters", "vms"]

    /// aiHelpDesk keys for its sysadmin agent, which acts on hosts; nothing here reads them.
    private static let vmKeysWithoutFeature: [(key: String, reason: String)] = [
        ("runtime", "this project does not manage containers or services on hosts (aiHelpDesk's sysadmin agent does)"),
    ]
    private static let databaseKeysWithoutFeature: [(key: String, reason: String)] = [
        ("container_name", "this project does not manage containers (aiHelpDesk's sysadmin agent does)"),
        ("systemd_unit", "this project does not manage systemd units (aiHelpDesk's sysadmin agent does)"),
    ]

    init(_ section: ConfigSection, environment: [String: String]) {
        if let password = environment["PGPASSWORD"], !password.isEmpty {
            postgresCredentials.password = section.registerSecret(password)
        }
        postgresCredentials.passFile = environment["PGPASSFILE"] ?? environment["HOME"].map { $0 + "/.pgpass" }
        section.ignore(where: Self.isComment)
        // `HELPDESK_INFRASTRUCTURE_FILE` reaches this through the section's scalar getter.
        let path = section.optionalString("file").flatMap { $0.isEmpty ? nil : $0 }
        let inline = Self.lists.filter(section.contains)
        if let path, inline.isEmpty {
            if let root = section.externalFile("file", path: path, as: []) {
                file = path
                root.ignore(where: Self.isComment)
                read(root, environment: environment)
                root.finish()
            }
        } else {
            if let path {
                for key in inline {
                    section.report(key, "infrastructure.file names \(path) as the inventory, and \(key) is listed here too; "
                        + "keep the inventory in one place: move these entries into that file, or remove file")
                }
            }
            read(section, environment: environment)
        }
        section.finish()
    }

    /// Reads the three lists of `section` (the `infrastructure:` section or a file's root).
    private mutating func read(_ section: ConfigSection, environment: [String: String]) {
        for (id, entry) in Self.entries(section, "k8s_clusters") {
            k8sClusters.append(KubernetesCluster(
                id: id, name: entry.optionalString("name"), context: entry.optionalString("context"),
                kubeconfig: entry.optionalString("kubeconfig"), tags: entry.stringList("tags"), sensitivity: Self.sensitivity(entry)))
            entry.finish()
        }
        for (id, entry) in Self.entries(section, "vms") {
            vms.append(Self.virtualMachine(id, entry))
            entry.finish()
        }
        let prefix = section.path.map { $0 + "." }.joined()
        let clusterIDs = Set(k8sClusters.map(\.id))
        let vmIDs = Set(vms.map(\.id))
        for (id, entry) in Self.entries(section, "db_servers") {
            let connection = entry.optionalString("connection_string")
            if connection == nil { entry.report("connection_string", "required: a libpq connection string or postgres:// URL") }
            let cluster = entry.optionalString("k8s_cluster")
            if let cluster, !clusterIDs.contains(cluster) {
                entry.report("k8s_cluster", "names \"\(cluster)\", which is not under \(prefix)k8s_clusters")
            }
            let vm = entry.optionalString("vm_name")
            if let vm, !vmIDs.contains(vm) {
                entry.report("vm_name", "names \"\(vm)\", which is not under \(prefix)vms")
            }
            let (variable, password) = Self.password(of: id, entry, environment: environment)
            dbServers.append(DatabaseServer(
                id: id, name: entry.optionalString("name"), connectionString: connection ?? "", k8sCluster: cluster,
                k8sNamespace: entry.optionalString("k8s_namespace"), vmName: vm, tags: entry.stringList("tags"),
                sensitivity: Self.sensitivity(entry), podSelector: Self.podSelector(entry),
                approvalOverrideRoles: Self.roles(entry, "approval_override_roles"), passwordVariable: variable, password: password,
                diskCapacityBytes: Self.diskCapacity(of: id, entry)))
            Self.warnWithoutFeature(entry, Self.databaseKeysWithoutFeature)
            entry.finish()
        }
    }

    /// aiHelpDesk's files annotate themselves with `_comment` keys, which JSON has no other way to do.
    private static func isComment(_ key: String) -> Bool { key.hasPrefix("_") }

    /// The entries of one list, in file order, without comment keys at either level.
    private static func entries(_ parent: ConfigSection, _ key: String) -> [(id: String, entry: ConfigSection)] {
        let list = parent.section(key)
        list.ignore(where: isComment)
        return list.keys.filter { !isComment($0) }.map { id in
            let entry = list.section(id)
            entry.ignore(where: isComment)
            return (id, entry)
        }
    }

    /// `host`, or `address` as aiHelpDesk names it; one of them, not both.
    private static func virtualMachine(_ id: String, _ entry: ConfigSection) -> VirtualMachine {
        let host = entry.optionalString("host")
        let address = entry.optionalString("address")
        if host != nil, address != nil {
            entry.report("address", "host and address both give the VM's address (address is aiHelpDesk's name for host); keep one")
        }
        if host == nil, address == nil {
            entry.report("host", "required: the VM's host name or address (host, or address as aiHelpDesk writes it)")
        }
        let machine = VirtualMachine(id: id, name: entry.optionalString("name"), host: host ?? address ?? "", tags: entry.stringList("tags"),
                                     sensitivity: sensitivity(entry))
        warnWithoutFeature(entry, vmKeysWithoutFeature)
        return machine
    }

    /// aiHelpDesk's `password_env`: the variable is read once, here, from the configuration's
    /// environment, and its value is masked in logs. Unset, the database connects as libpq would
    /// without it (aiHelpDesk leaves the connection string as it is), and a warning names the variable.
    private static func password(of id: String, _ entry: ConfigSection,
                                 environment: [String: String]) -> (variable: String?, password: Secret?) {
        guard let variable = entry.optionalString("password_env"), !variable.isEmpty else { return (nil, nil) }
        let isName = variable.first.map { !$0.isNumber } == true
            && variable.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        guard isName else {
            entry.report("password_env", "\"\(variable)\" is not an environment variable name (letters, digits and _, not starting with a digit)")
            return (nil, nil)
        }
        guard let value = environment[variable], !value.isEmpty else {
            entry.warn("password_env", "the environment variable \(variable) is not set, so \(id) connects with the connection "
                + "string's own password, else PGPASSWORD or the password file")
            return (variable, nil)
        }
        return (variable, entry.registerSecret(value))
    }

    /// aiHelpDesk's `k8s_pod_selector`, checked as the `pods` tool checks its `selector` argument.
    private static func podSelector(_ entry: ConfigSection) -> String? {
        guard let selector = entry.optionalString("k8s_pod_selector"), !selector.isEmpty else { return nil }
        if let problem = labelSelectorProblem(selector) {
            entry.report("k8s_pod_selector", "\"\(selector)\" is not a label selector such as app=postgres: it \(problem)")
            return nil
        }
        return selector
    }

    /// A list of role names, as `users:` and policies write them.
    private static func roles(_ entry: ConfigSection, _ key: String) -> [String] {
        let roles = entry.stringList(key)
        if roles.contains(where: { $0.allSatisfy(\.isWhitespace) }) {
            entry.report(key, "a role name is empty")
        }
        return roles
    }

    /// One warning per key present, at its line: it loads, and nothing reads it.
    private static func warnWithoutFeature(_ entry: ConfigSection, _ keys: [(key: String, reason: String)]) {
        for (key, reason) in keys where entry.contains(key) {
            entry.warn(key, "ignored: " + reason)
        }
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
