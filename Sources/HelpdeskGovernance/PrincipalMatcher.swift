import HelpdeskAgents
import HelpdeskCore

/// Names a principal or a set of them, as policy files write it: `user: alice`, `role: dba`,
/// `service: srebot` or `any: true` (as mappings), or `role:dba` / `alice` (as strings, in `approvers`).
///
/// An entry with several keys (`{user: alice@corp.example, role: sre}`) matches when any of them does,
/// as aiHelpDesk reads it; with `any: true` among them it matches everyone. An entry that names no one
/// (`any: false` alone, or empty values) matches no one, as in aiHelpDesk, with a warning.
public enum PrincipalMatcher: Sendable, Equatable, Decodable, CustomStringConvertible {
    case user(String)
    case role(String)
    case service(String)
    case any
    /// A mapping entry with several keys: any one matching is enough. `anyOf([])` names no one.
    case anyOf([PrincipalMatcher])

    enum CodingKeys: String, CodingKey, CaseIterable { case user, role, service, any, group }

    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            self = Self.parse(text)
            return
        }
        try rejectUnknownKeysInMatcher(decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if try container.decodeIfPresent(Bool.self, forKey: .any) == true {
            self = .any
            return
        }
        // An empty value names no one, as in aiHelpDesk (its keys are optional strings).
        func named(_ key: CodingKeys) throws -> String? {
            try container.decodeIfPresent(String.self, forKey: key).flatMap { $0.isEmpty ? nil : $0 }
        }
        var members: [PrincipalMatcher] = []
        if let user = try named(.user) {
            // Approval requests keep approvers as text, where these read as a role, a service or anyone.
            if user == "*" || user == "any" || ["role:", "group:", "service:", "user:"].contains(where: user.hasPrefix) {
                throw DecodingError.dataCorruptedError(forKey: .user, in: container, debugDescription:
                    "\"\(user)\" is not a person's name (as text it reads as a role, a service or anyone); use role:, service: or any: true")
            }
            members.append(.user(user))
        }
        if let role = try named(.role) { members.append(.role(role)) }
        if let group = try named(.group) { members.append(.role(group)) }
        if let service = try named(.service) { members.append(.service(service)) }
        if members.isEmpty {
            decoder.policyWarnings?.add(
                "this entry names no one (no user, role, group or service, and not any: true), so it matches no one, "
                    + "as in aiHelpDesk; remove it, or write any: true for everyone",
                at: decoder.codingPath)
        }
        self = members.count == 1 ? members[0] : .anyOf(members)
    }

    public static func parse(_ text: String) -> PrincipalMatcher {
        if text == "*" || text == "any" { return .any }
        for (prefix, make) in [("role:", PrincipalMatcher.role), ("group:", PrincipalMatcher.role), ("service:", PrincipalMatcher.service),
                               ("user:", PrincipalMatcher.user)] where text.hasPrefix(prefix) {
            return make(String(text.dropFirst(prefix.count)))
        }
        return .user(text)
    }

    /// The single matchers this one stands for: itself, or the keys of a several-key entry.
    public var members: [PrincipalMatcher] {
        if case .anyOf(let members) = self { return members }
        return [self]
    }

    public func matches(_ principal: Principal) -> Bool {
        switch self {
        case .any: true
        case .user(let id): principal.kind == .user && principal.id == id
        case .role(let role): principal.kind != .anonymous && principal.roles.contains(role)
        case .service(let id): principal.kind == .service && principal.id == id
        case .anyOf(let members): members.contains { $0.matches(principal) }
        }
    }

    public var description: String {
        switch self {
        case .any: "anyone"
        case .user(let id): id
        case .role(let role): "role \(role)"
        case .service(let id): "service \(id)"
        case .anyOf(let members): members.isEmpty ? "no one" : members.map(\.description).joined(separator: " or ")
        }
    }
}

private func rejectUnknownKeysInMatcher(_ decoder: any Decoder) throws {
    try rejectUnknownKeys(decoder, PrincipalMatcher.CodingKeys.self)
}
