import Foundation
import NIOConcurrencyHelpers

/// Failed key checks per source address in a sliding window: a source with `limit` failures in the
/// last `window` seconds is refused before any hashing until the oldest of them leaves the window.
/// Unlike ``SourceRateLimiter``'s buckets, no failure is forgiven early: the cost an address can make
/// the server spend on Argon2id is at most `limit` passes a window. Memory stays bounded: past
/// `maxSources`, sources whose failures have all left the window go first, then the oldest.
final class SourceFailureWindow: Sendable {
    let limit: Int
    let window: Double
    let maxSources: Int
    private let failures = NIOLockedValueBox<[String: [Double]]>([:])

    init(limit: Int = 5, window: Double = 60, maxSources: Int = 10_000) {
        self.limit = max(1, limit)
        self.window = window
        self.maxSources = maxSources
    }

    /// Seconds until `source` may be checked again, when it is at the limit; `nil` otherwise.
    func retryAfter(_ source: String, now: Double = Date().timeIntervalSince1970) -> Double? {
        failures.withLockedValue { failures in
            let recent = (failures[source] ?? []).filter { now - $0 < window }
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return oldest + window - now
        }
    }

    /// Counts one failed check for `source`.
    func record(_ source: String, now: Double = Date().timeIntervalSince1970) {
        failures.withLockedValue { failures in
            var recent = (failures[source] ?? []).filter { now - $0 < window }
            recent.append(now)
            if recent.count > limit { recent.removeFirst(recent.count - limit) }
            failures[source] = recent
            if failures.count > maxSources { prune(&failures, now: now) }
        }
    }

    private func prune(_ failures: inout [String: [Double]], now: Double) {
        failures = failures.filter { now - ($0.value.last ?? 0) < window }
        if failures.count > maxSources {
            let keep = failures.sorted { ($0.value.last ?? 0) > ($1.value.last ?? 0) }.prefix(maxSources / 2)
            failures = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}
