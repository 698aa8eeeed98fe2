import HelpdeskCore

/// What one call would change, as the tool states it, for policy conditions such as
/// `max_pods_affected`. `nil` means the tool cannot say; a rule limiting that count then refuses.
public struct ToolImpact: Sendable, Equatable, Codable {
    public var rows: Int?
    public var pods: Int?
    public var sessions: Int?

    public init(rows: Int? = nil, pods: Int? = nil, sessions: Int? = nil) {
        self.rows = rows
        self.pods = pods
        self.sessions = sessions
    }

    /// A read changes nothing.
    public static let none = ToolImpact(rows: 0, pods: 0, sessions: 0)
}

extension Agent {
    /// Default: reads change nothing; other tools cannot say.
    public func impact(of call: ToolCall) async throws -> ToolImpact {
        tools.first { $0.name == call.tool }?.action == .read ? .none : ToolImpact()
    }

    /// Default: nothing to pin.
    public func pin(_ call: ToolCall) async throws -> ToolCall { call }
}
