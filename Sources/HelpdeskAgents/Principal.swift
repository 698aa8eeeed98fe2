import HelpdeskCore

/// Who asks for an action: a person (from Slack, an email link or an API token), a service (the
/// alert bot), or nobody we know.
public struct Principal: Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        case user, service, anonymous
    }

    public var id: String
    public var kind: Kind
    public var roles: [String]

    public init(id: String, kind: Kind = .user, roles: [String] = []) {
        self.id = id
        self.kind = kind
        self.roles = roles
    }

    public static let anonymous = Principal(id: "anonymous", kind: .anonymous)
    /// The alert bot: alerts' diagnoses are decided as this service.
    public static let alertBot = Principal(id: BuiltInServices.alertBot, kind: .service)

    public var description: String {
        kind == .user ? id : "\(kind.rawValue):\(id)"
    }
}
