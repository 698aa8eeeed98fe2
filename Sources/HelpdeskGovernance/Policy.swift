import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore

/// A policy file: `version: "1"` and its policies, in the aiHelpDesk schema. Decoding it stops at
/// the first policy that does not decode; ``PolicyLoader`` reports every one.
public struct PolicyFile: Sendable, Decodable {
    /// As written; a missing or empty version reads as "1", as aiHelpDesk's loader defaults it.
    public var version: String
    public var policies: [Policy]

    public init(from decoder: any Decoder) throws {
        let entries = try PolicyFileEntries(from: decoder)
        version = entries.version
        policies = try entries.policies.map { try $0.result.get() }
    }
}

/// A policy file as the loader reads it: the top-level keys and the version checked once, then each
/// element of `policies` decoded on its own, so one policy that does not decode does not hide the
/// problems of the next. Each failure keeps its coding path (`policies.N.…`), which finds its line.
struct PolicyFileEntries: Decodable {
    var version: String
    var policies: [Entry]

    enum CodingKeys: String, CodingKey, CaseIterable { case version, policies }

    /// One element of `policies`: the policy, or why it does not decode.
    struct Entry: Decodable {
        var result: Result<Policy, DecodingError>

        init(from decoder: any Decoder) {
            do {
                result = .success(try Policy(from: decoder))
            } catch let error as DecodingError {
                result = .failure(error)
            } catch {
                result = .failure(.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)",
                                                       underlyingError: error)))
            }
        }
    }

    init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let written = try container.decodeIfPresent(String.self, forKey: .version)
        // The one rule for aiHelpDesk's schema versions, shared with its users files; a version not
        // understood stops here, before its policies are read under the wrong schema.
        if let problem = AIHelpDeskSchema.versionProblem(written) {
            throw DecodingError.dataCorruptedError(forKey: .version, in: container, debugDescription: problem)
        }
        version = written.flatMap { $0.isEmpty ? nil : $0 } ?? "1"
        policies = try container.decodeIfPresent([Entry].self, forKey: .policies) ?? []
    }
}

public enum ResourceType: String, Sendable, Codable, CaseIterable {
    /// `alertmanager`: the Alertmanager of a receiver, named by the receiver (silences are made there).
    case database, kubernetes, host, alertmanager
}

public enum Effect: String, Sendable, Codable {
    case allow, deny
    case requireApproval = "require_approval"
}

public struct Policy: Sendable, Decodable {
    public var name: String
    public var description: String
    public var enabled: Bool
    public var priority: Int
    public var principals: [PrincipalMatcher]
    public var resources: [ResourceMatch]
    public var rules: [PolicyRule]
    /// Where it was read from, for explanations.
    public var file = ""

    enum CodingKeys: String, CodingKey, CaseIterable { case name, description, enabled, priority, principals, resources, rules }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description) ?? ""
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        priority = try container.decodeIfPresent(Int.self, forKey: .priority) ?? 0
        principals = try container.decodeIfPresent([PrincipalMatcher].self, forKey: .principals) ?? []
        resources = try container.decodeIfPresent([ResourceMatch].self, forKey: .resources) ?? []
        rules = try container.decodeIfPresent([PolicyRule].self, forKey: .rules) ?? []
        // A policy without rules decides nothing, so it is a mistake, and aiHelpDesk refuses it too.
        guard !rules.isEmpty else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath + [CodingKeys.rules as any CodingKey],
                debugDescription: "policy \"\(name)\" has no rules; give it at least one (action and effect), or remove it"))
        }
    }
}

/// Which resources a policy covers: a type, and optionally names, patterns, tags, a namespace or tools.
public struct ResourceMatch: Sendable, Decodable {
    public var type: ResourceType
    public var name: String?
    public var namePattern: String?
    public var tags: [String]
    public var sensitivity: [String]
    public var namespace: String?
    public var tool: String?
    public var toolPattern: String?

    enum CodingKeys: String, CodingKey, CaseIterable { case type, match }
    enum MatchKeys: String, CodingKey, CaseIterable {
        case name, namePattern = "name_pattern", tags, sensitivity, namespace, tool, toolPattern = "tool_pattern"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(ResourceType.self, forKey: .type)
        if container.contains(.match) {
            try rejectUnknownKeys(try container.superDecoder(forKey: .match), MatchKeys.self)
            let match = try container.nestedContainer(keyedBy: MatchKeys.self, forKey: .match)
            name = try match.decodeIfPresent(String.self, forKey: .name)
            namePattern = try match.decodeIfPresent(String.self, forKey: .namePattern)
            tags = try match.decodeIfPresent([String].self, forKey: .tags) ?? []
            sensitivity = try match.decodeIfPresent([String].self, forKey: .sensitivity) ?? []
            namespace = try match.decodeIfPresent(String.self, forKey: .namespace)
            // aiHelpDesk's name of a tool this project has under another name means ours.
            let writtenTool = try match.decodeIfPresent(String.self, forKey: .tool)
            tool = writtenTool.map(AIHelpDeskToolNames.ours)
            toolPattern = try match.decodeIfPresent(String.self, forKey: .toolPattern)
            if let warnings = decoder.policyWarnings, let known = warnings.knownTools {
                checkToolNames(written: writtenTool, in: match, known: known, warnings: warnings)
            }
        } else {
            tags = []
            sensitivity = []
        }
    }

    /// A `tool` or `tool_pattern` that names no tool of this server makes the entry match no call, so a
    /// policy meant to deny it would quietly apply to nothing: a warning at its line.
    private func checkToolNames(written: String?, in match: KeyedDecodingContainer<MatchKeys>, known: Set<String>,
                                warnings: PolicyWarningCollector) {
        let list = "this server's tools: \(known.sorted().joined(separator: ", "))"
        func differently(_ written: String, _ counterpart: (tool: String, action: String)) -> String {
            "aiHelpDesk's \(written) is matched as \(counterpart.tool) here, which is a \(counterpart.action) (aiHelpDesk classes "
                + "\(written) destructive): check that the rule's action covers \(counterpart.action)"
        }
        if let written, let counterpart = AIHelpDeskToolNames.counterparts[written] {
            warnings.add(differently(written, counterpart), at: match.codingPath + [MatchKeys.tool as any CodingKey])
        } else if let written, let tool, !known.contains(tool) {
            warnings.add("\"\(written)\" is no tool of this server, so this resource entry matches no call; \(list)",
                         at: match.codingPath + [MatchKeys.tool as any CodingKey])
        }
        if let toolPattern {
            let path = match.codingPath + [MatchKeys.toolPattern as any CodingKey]
            if !known.contains(where: { AIHelpDeskToolNames.pattern(toolPattern, matches: $0) }) {
                warnings.add("\"\(toolPattern)\" matches no tool of this server, so this resource entry matches no call; \(list)", at: path)
            }
            for (written, counterpart) in AIHelpDeskToolNames.counterparts.sorted(by: { $0.key < $1.key })
            where glob(toolPattern, written) && known.contains(counterpart.tool) {
                warnings.add("\"\(toolPattern)\" matches " + differently(written, counterpart), at: path)
            }
        }
    }

    func matches(_ resource: Resource, tool toolName: String) -> Bool {
        guard resource.type == type else { return false }
        if let name, name != resource.name { return false }
        if let namePattern, !glob(namePattern, resource.name) { return false }
        if !tags.allSatisfy(resource.tags.contains) { return false }
        if !sensitivity.allSatisfy(resource.sensitivity.contains) { return false }
        if let namespace, namespace != resource.namespace { return false }
        if let tool, tool != toolName { return false }
        // Against aiHelpDesk's names for the tool too: `get_*` written for its names covers their equivalents.
        if let toolPattern, !AIHelpDeskToolNames.pattern(toolPattern, matches: toolName) { return false }
        return true
    }
}

/// `*` and `?` shell-style patterns, as fnmatch reads them.
func glob(_ pattern: String, _ value: String) -> Bool {
    fnmatch(pattern, value, 0) == 0
}

public struct PolicyRule: Sendable, Decodable {
    public var actions: [ActionClass]
    public var effect: Effect
    public var message: String?
    public var conditions: Conditions

    enum CodingKeys: String, CodingKey, CaseIterable { case action, effect, message, conditions }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let one = try? container.decode(ActionClass.self, forKey: .action) {
            actions = [one]
        } else {
            actions = try container.decode([ActionClass].self, forKey: .action)
        }
        effect = try container.decode(Effect.self, forKey: .effect)
        message = try container.decodeIfPresent(String.self, forKey: .message)
        conditions = try container.decodeIfPresent(Conditions.self, forKey: .conditions) ?? Conditions()
    }

    public struct Conditions: Sendable, Decodable {
        public var schedule: Schedule?
        public var maxRowsAffected: Int?
        public var maxPodsAffected: Int?
        /// For a call that ends or interrupts a session: the most seconds its transaction may have
        /// been open with writes (rolling back a long transaction takes about as long as it ran).
        public var maxTransactionAgeSeconds: Int?
        /// aiHelpDesk's way to ask for approval on an `allow` rule.
        public var requireApproval: Bool?
        public var approvalQuorum: Int?
        public var approvers: [PrincipalMatcher]
        public var approvalTTL: Duration?
        public var allowedPurposes: [String]?
        public var blockedPurposes: [String]?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case schedule, maxRowsAffected = "max_rows_affected", maxPodsAffected = "max_pods_affected", requireApproval = "require_approval"
            case maxTransactionAgeSeconds = "max_xact_age_secs"
            case approvalQuorum = "approval_quorum", approvers, approvalTTL = "approval_ttl"
            case allowedPurposes = "allowed_purposes", blockedPurposes = "blocked_purposes"
        }

        init() {
            approvers = []
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            schedule = try container.decodeIfPresent(Schedule.self, forKey: .schedule)
            maxRowsAffected = try Self.limit(.maxRowsAffected, in: container, decoder)
            maxPodsAffected = try Self.limit(.maxPodsAffected, in: container, decoder)
            maxTransactionAgeSeconds = try Self.limit(.maxTransactionAgeSeconds, in: container, decoder)
            requireApproval = try container.decodeIfPresent(Bool.self, forKey: .requireApproval)
            approvalQuorum = try container.decodeIfPresent(Int.self, forKey: .approvalQuorum)
            if let quorum = approvalQuorum, quorum < 1 {
                guard quorum == 0 else {
                    throw DecodingError.dataCorruptedError(forKey: .approvalQuorum, in: container,
                                                           debugDescription: "approval_quorum must be 1 or more, got \(quorum)")
                }
                // aiHelpDesk asks for one approval when the quorum is 0.
                decoder.policyWarnings?.add("0 means 1 approval, as in aiHelpDesk; write 1 or leave the key out to say so",
                                            at: decoder.codingPath + [CodingKeys.approvalQuorum as any CodingKey])
                approvalQuorum = 1
            }
            approvers = try Self.approvers(in: container)
            if let text = try container.decodeIfPresent(String.self, forKey: .approvalTTL) {
                guard let ttl = Duration(parsing: text), ttl > .zero else {
                    throw DecodingError.dataCorruptedError(forKey: .approvalTTL, in: container, debugDescription: "expected a duration like 30m, at most 3650d, got \"\(text)\"")
                }
                approvalTTL = ttl
            }
            allowedPurposes = try container.decodeIfPresent([String].self, forKey: .allowedPurposes)
            blockedPurposes = try container.decodeIfPresent([String].self, forKey: .blockedPurposes)
        }

        /// `approvers`, one matcher per name. An entry naming no one is refused (an empty list would let
        /// anyone approve), and so is a several-key entry: `approvers` is this project's key, and
        /// `{user: carol, role: dba}` could mean carol-who-is-a-dba as well as either of them.
        private static func approvers(in container: KeyedDecodingContainer<CodingKeys>) throws -> [PrincipalMatcher] {
            let entries = try container.decodeIfPresent([PrincipalMatcher].self, forKey: .approvers) ?? []
            if entries.contains(.anyOf([])) {
                throw DecodingError.dataCorruptedError(forKey: .approvers, in: container, debugDescription:
                    "an approvers entry names no one; name a user, role or service (or role:NAME, service:NAME as text)")
            }
            if entries.contains(where: { $0.members.count > 1 }) {
                throw DecodingError.dataCorruptedError(forKey: .approvers, in: container, debugDescription:
                    "an approvers entry names one user, role or service; list several as separate entries (any of them may approve)")
            }
            return entries
        }

        /// A limit as aiHelpDesk reads it: 0 is no limit (with a warning, since a reader here could take
        /// it for "none allowed"); below 0 is refused, as it can only be a mistake.
        private static func limit(_ key: CodingKeys, in container: KeyedDecodingContainer<CodingKeys>,
                                  _ decoder: any Decoder) throws -> Int? {
            guard let value = try container.decodeIfPresent(Int.self, forKey: key) else { return nil }
            if value < 0 {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription:
                    "\(key.stringValue) must be 1 or more, got \(value); leave the key out for no limit")
            }
            if value == 0 {
                decoder.policyWarnings?.add("0 means no limit, as in aiHelpDesk; leave the key out to say so",
                                            at: decoder.codingPath + [key as any CodingKey])
                return nil
            }
            return value
        }
    }
}
