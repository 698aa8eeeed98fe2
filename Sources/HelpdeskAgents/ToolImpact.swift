import HelpdeskCore

/// What one call would change, as the tool states it, for policy conditions such as
/// `max_pods_affected`. `nil` means the tool cannot say; a rule limiting that count then refuses.
public struct ToolImpact: Sendable, Equatable, Codable {
    public var rows: Int?
    public var pods: Int?
    public var sessions: Int?
    /// For a call that ends or interrupts a session: how long, in whole seconds, that session's
    /// transaction has been open with writes (0 when it has not written, or has no transaction),
    /// which is about how long rolling it back may take (`max_xact_age_secs`). 0 for tools that end
    /// no session.
    public var transactionAgeSeconds: Int?
    /// For a call that ends or interrupts one session: that session as it is now, for approvers.
    /// `nil` when the tool ends none, or the session is gone or could not be read. Policy reads
    /// none of it: limits stay on the counts above.
    public var session: SessionEvidence?

    enum CodingKeys: String, CodingKey {
        case rows, pods, sessions, transactionAgeSeconds = "transaction_age_seconds", session
    }

    public init(rows: Int? = nil, pods: Int? = nil, sessions: Int? = nil, transactionAgeSeconds: Int? = nil,
                session: SessionEvidence? = nil) {
        self.rows = rows
        self.pods = pods
        self.sessions = sessions
        self.transactionAgeSeconds = transactionAgeSeconds
        self.session = session
    }

    /// A read changes nothing.
    public static let none = ToolImpact(rows: 0, pods: 0, sessions: 0, transactionAgeSeconds: 0)
}

extension Agent {
    /// Default: reads change nothing; other tools cannot say.
    public func impact(of call: ToolCall) async throws -> ToolImpact {
        tools.first { $0.name == call.tool }?.action == .read ? .none : ToolImpact()
    }

    /// Default: nothing to pin.
    public func pin(_ call: ToolCall) async throws -> ToolCall { call }
}
