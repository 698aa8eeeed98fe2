import Foundation
import HelpdeskCore
import Synchronization

/// Mailgun tokens already accepted, each kept for the replay window: a post that reuses one is a
/// replay. In memory, for one process: a restart forgets them, and several replicas do not share
/// them, which the replay window (a stale timestamp is refused anyway) keeps to minutes.
///
/// Bounded: only tokens with a valid signature get in, so filling it takes Mailgun's key; when
/// full of live tokens the oldest one is dropped.
public final class MailgunReplayCache: Sendable {
    private struct State {
        /// token → when it may be forgotten (seconds since 1970).
        var expiries: [String: Double] = [:]
    }

    private let state = Mutex(State())
    public let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
    }

    /// Records `token` and returns `true` the first time it is seen within `window`, `false` for a replay.
    public func claim(_ token: String, now: Date, window: Duration) -> Bool {
        let nowSeconds = now.timeIntervalSince1970
        return state.withLock { state in
            if let expiry = state.expiries[token], expiry > nowSeconds { return false }
            if state.expiries.count >= capacity {
                state.expiries = state.expiries.filter { $0.value > nowSeconds }
                if state.expiries.count >= capacity, let oldest = state.expiries.min(by: { $0.value < $1.value }) {
                    state.expiries[oldest.key] = nil
                }
            }
            // Remembered for twice the window: the timestamp may be up to one window in the future.
            state.expiries[token] = nowSeconds + 2 * window.seconds
            return true
        }
    }

    public var count: Int { state.withLock { $0.expiries.count } }
}
