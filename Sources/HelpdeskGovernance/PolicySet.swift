import Synchronization

/// The policies in force, swapped whole when the files change; readers always see one consistent set.
public final class PolicySet: Sendable {
    private let current: Mutex<PolicyEngine>

    public init(_ engine: PolicyEngine) {
        current = Mutex(engine)
    }

    public var engine: PolicyEngine { current.withLock { $0 } }

    public func replace(with engine: PolicyEngine) {
        current.withLock { $0 = engine }
    }
}
