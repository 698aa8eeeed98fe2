import HelpdeskCore

/// Pod specs with environment variables reduced to their names: literal values never leave the
/// agent, and a value taken from a Secret or ConfigMap shows only which one and which key.
enum PodEnvironmentRedaction {
    /// Written by `kubectl apply`: the whole manifest as JSON text, env values included.
    static let lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

    /// `object` (a Pod, a workload with a pod template, or a list of them) with env values removed.
    static func namesOnly(_ object: JSONValue) -> JSONValue {
        guard case .object(var fields) = object else { return object }
        if case .array(let items)? = fields["items"] { fields["items"] = .array(items.map(namesOnly)) }
        if case .object(var metadata)? = fields["metadata"], case .object(var annotations)? = metadata["annotations"],
           annotations[lastApplied] != nil {
            annotations[lastApplied] = nil
            metadata["annotations"] = .object(annotations)
            fields["metadata"] = .object(metadata)
        }
        if case .object(var spec)? = fields["spec"] {
            spec = podSpec(spec)
            if case .object(var template)? = spec["template"] {
                if case .object(let templateSpec)? = template["spec"] { template["spec"] = .object(podSpec(templateSpec)) }
                spec["template"] = .object(template)
            }
            fields["spec"] = .object(spec)
        }
        return .object(fields)
    }

    private static func podSpec(_ spec: [String: JSONValue]) -> [String: JSONValue] {
        var spec = spec
        for key in ["containers", "initContainers", "ephemeralContainers"] {
            if case .array(let containers)? = spec[key] { spec[key] = .array(containers.map(container)) }
        }
        return spec
    }

    private static func container(_ container: JSONValue) -> JSONValue {
        guard case .object(var fields) = container else { return container }
        if case .array(let variables)? = fields["env"] { fields["env"] = .array(variables.map(variable)) }
        if case .array(let sources)? = fields["envFrom"] { fields["envFrom"] = .array(sources.map(source)) }
        return .object(fields)
    }

    /// `{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}`, never `value`.
    private static func variable(_ variable: JSONValue) -> JSONValue {
        var kept: [String: JSONValue] = ["name": variable["name"] ?? .null]
        guard let from = variable["valueFrom"] else { return .object(kept) }
        var reference: [String: JSONValue] = [:]
        for kind in ["secretKeyRef", "configMapKeyRef"] {
            if let ref = from[kind] { reference[kind] = .object(["name": ref["name"] ?? .null, "key": ref["key"] ?? .null]) }
        }
        if let ref = from["fieldRef"] { reference["fieldRef"] = .object(["fieldPath": ref["fieldPath"] ?? .null]) }
        if let ref = from["resourceFieldRef"] { reference["resourceFieldRef"] = .object(["resource": ref["resource"] ?? .null]) }
        kept["valueFrom"] = .object(reference)
        return .object(kept)
    }

    /// `envFrom` names whole Secrets or ConfigMaps: keep which, and the prefix.
    private static func source(_ source: JSONValue) -> JSONValue {
        var kept: [String: JSONValue] = [:]
        for kind in ["secretRef", "configMapRef"] {
            if let ref = source[kind] { kept[kind] = .object(["name": ref["name"] ?? .null]) }
        }
        if let prefix = source["prefix"] { kept["prefix"] = prefix }
        return .object(kept)
    }
}
