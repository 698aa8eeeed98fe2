import Foundation
import NIOConcurrencyHelpers

/// Token buckets per caller address, for the routes anyone can reach. Memory stays bounded
/// however many addresses call: past `maxSources`, buckets idle long enough to be full again are
/// dropped first, then the oldest.
final class SourceRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    let perMinute: Int
    let maxSources: Int
    private let buckets = NIOLockedValueBox<[String: Bucket]>([:])

    init(perMinute: Int, maxSources: Int = 10_000) {
        self.perMinute = perMinute
        self.maxSources = maxSources
    }

    private var capacity: Double { Double(perMinute) }
    private var refillPerSecond: Double { Double(perMinute) / 60 }

    /// Takes one token for `source`; when none is left, the seconds until one is.
    func take(_ source: String, now: Double = Date().timeIntervalSince1970) -> Double? {
        buckets.withLockedValue { buckets in
            var bucket = refilled(buckets[source], now: now)
            defer {
                buckets[source] = bucket
                if buckets.count > maxSources { prune(&buckets, now: now) }
            }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / refillPerSecond }
            bucket.tokens -= 1
            return nil
        }
    }

    /// Whether `source` has no token left, without taking one.
    func isExhausted(_ source: String, now: Double = Date().timeIntervalSince1970) -> Double? {
        buckets.withLockedValue { buckets in
            guard let bucket = buckets[source].map({ refilled($0, now: now) }), bucket.tokens < 1 else { return nil }
            return (1 - bucket.tokens) / refillPerSecond
        }
    }

    private func refilled(_ bucket: Bucket?, now: Double) -> Bucket {
        guard var bucket else { return Bucket(tokens: capacity, updated: now) }
        bucket.tokens = min(capacity, bucket.tokens + max(0, now - bucket.updated) * refillPerSecond)
        bucket.updated = now
        return bucket
    }

    private func prune(_ buckets: inout [String: Bucket], now: Double) {
        let fullAfter = capacity / refillPerSecond
        buckets = buckets.filter { now - $0.value.updated < fullAfter }
        if buckets.count > maxSources {
            let keep = buckets.sorted { $0.value.updated > $1.value.updated }.prefix(maxSources / 2)
            buckets = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}
