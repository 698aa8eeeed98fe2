import Foundation
import HelpdeskCore

/// The one backoff formula (jobs, the Slack outbox, the model clients): attempt n waits
/// `base * 2^(n-1)`, at most `max`, then a share of that between a half and the whole picked by
/// `jitter`, so work that failed together does not retry together.
public struct Backoff: Sendable {
    public var base: Duration
    public var max: Duration

    public init(base: Duration, max: Duration) {
        self.base = base
        self.max = max
    }

    /// The delay after failed attempt `attempt` (1-based); `jitter` in 0...1 picks within the band.
    public func delay(afterAttempt attempt: Int, jitter: Double) -> Duration {
        let exponent = Swift.min(Swift.max(attempt - 1, 0), 62)
        let raw = base.seconds * pow(2, Double(exponent))
        let capped = Swift.min(raw, max.seconds)
        let jittered = capped * (0.5 + 0.5 * Swift.min(Swift.max(jitter, 0), 1))
        return .milliseconds(Int64((jittered * 1000).rounded()))
    }
}
