import Synchronization

/// A one-shot "the process exited with this status", set from `Process.terminationHandler` and waitable
/// from async code (a status set before anyone waits is kept).
public final class ProcessExit: Sendable {
    private let state = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))

    public init() {}

    /// The status once the process exited.
    public var status: Int32? { state.withLock { $0.status } }

    public func finish(_ status: Int32) {
        let waiters = state.withLock { state in
            state.status = status
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: status) }
    }

    public func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status = state.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }
}
