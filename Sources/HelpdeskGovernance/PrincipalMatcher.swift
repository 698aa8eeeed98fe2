import HelpdeskAgents
import HelpdeskCore

/// Names a principal or a set of them, as policy files write it: `user: alice`, `role: dba`,
/// `service: srebot` or `any: true` (as mappings), or `role:dba` / `alice` (as strings, in `approvers`).
public enum PrincipalMatcher: Sendable, Equatable, Decodable, CustomStringConvertible {
    case user(String)
    case role(String)
    case service(String)
    case any

    enum CodingKeys: String, CodingKey, CaseIterable { case user, role, service, any, group }

    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            self = Self.parse(text)
            return
        }
        try rejectUnknownKeysInMatcher(decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let user = try container.decodeIfPresent(String.self, forKey: .user) { self = .user(user) }
        else if let role = try container.decodeIfPresent(String.self, forKey: .role) { self = .role(role) }
        else if let group = try container.decodeIfPresent(String.self, forKey: .group) { self = .role(group) }
        else if let service = try container.decodeIfPresent(String.self, forKey: .service) { self = .service(service) }
        else if try container.decodeIfPresent(Bool.self, forKey: .any) == true { self = .any }
        else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a principal needs one of: user, role, group, service, any: true"))
        }
    }

    public static func parse(_ text: String) -> PrincipalMatcher {
        if text == "*" || text == "any" { return .any }
        for (prefix, make) in [("role:", PrincipalMatcher.role), ("group:", PrincipalMatcher.role), ("service:", PrincipalMatcher.service),
                               ("user:", PrincipalMatcher.user)] where text.hasPrefix(prefix) {
            return make(String(text.dropFirst(prefix.count)))
        }
        return .user(text)
    }

    public func matches(_ principal: Principal) -> Bool {
        switch self {
        case .any: true
        case .user(let id): principal.kind == .user && principal.id == id
        case .role(let role): principal.kind != .anonymous && principal.roles.contains(role)
        case .service(let id): principal.kind == .service && principal.id == id
        }
    }

    public var description: String {
        switch self {
        case .any: "anyone"
        case .user(let id): id
        case .role(let role): "role \(role)"
        case .service(let id): "service \(id)"
        }
    }
}

private func rejectUnknownKeysInMatcher(_ decoder: any Decoder) throws {
    try rejectUnknownKeys(decoder, PrincipalMatcher.CodingKeys.self)
}
