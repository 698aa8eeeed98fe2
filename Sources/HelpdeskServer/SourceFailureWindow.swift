import Foundation
import NIOConcurrencyHelpers

/// Failed key checks per source address in a sliding window: a source with `limit` failures in the
/// last `window` seconds is refused before any hashing until the oldest of them leaves the window.
/// Unlike ``SourceRateLimiter``'s buckets, no failure is forgiven early: the cost an address can make
/// the server spend on Argon2id is at most `limit` passes a window. Memory stays bounded: past
/// `maxSources`, sources whose failures have all left the window go first, then the oldest.
///
/// A check is admitted with ``reserve(_:now:)``, which decides and takes the place in one step, so
/// concurrent requests cannot all pass the test before the first failure is counted: a source has at
/// most one check queued or running, and that check counts toward `limit` until ``finish(_:failed:now:)``.
///
/// ```swift
/// guard case .granted(let reservation) = window.reserve(source) else { return }  // 429
/// window.finish(reservation, failed: !matched)
/// ```
final class SourceFailureWindow: Sendable {
    /// The right to run one check for a source; finishing it twice counts once.
    struct Reservation: Sendable, Equatable {
        let source: String
        let id: UInt64
    }

    enum Admission: Sendable, Equatable {
        case granted(Reservation)
        /// At the limit: seconds until the oldest failure leaves the window.
        case limited(retryAfter: Double)
        /// A check of this source is queued or running already.
        case checking
    }

    private struct Entry {
        var failures: [Double] = []
        /// The reservation of the check in flight, if any.
        var checking: UInt64?

        /// For pruning: a source with a check in flight counts as active now.
        var lastActive: Double { checking != nil ? .infinity : failures.last ?? 0 }
    }

    private struct State {
        var sources: [String: Entry] = [:]
        var lastID: UInt64 = 0
    }

    let limit: Int
    let window: Double
    let maxSources: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int = 5, window: Double = 60, maxSources: Int = 10_000) {
        self.limit = max(1, limit)
        self.window = window
        self.maxSources = maxSources
    }

    /// Admits one check for `source` and takes its place, or says why not, in one step.
    func reserve(_ source: String, now: Double = Date().timeIntervalSince1970) -> Admission {
        state.withLockedValue { state in
            var entry = state.sources[source] ?? Entry()
            guard entry.checking == nil else { return .checking }
            entry.failures = entry.failures.filter { now - $0 < window }
            // The check about to start counts too: failures + 1 may not pass the limit.
            if entry.failures.count >= limit, let oldest = entry.failures.first {
                return .limited(retryAfter: oldest + window - now)
            }
            state.lastID += 1
            entry.checking = state.lastID
            state.sources[source] = entry
            if state.sources.count > maxSources { prune(&state.sources, now: now) }
            return .granted(Reservation(source: source, id: state.lastID))
        }
    }

    /// Ends a reserved check, counting a failure when `failed`. A reservation that has ended already
    /// (or was never granted) changes nothing, so every path may finish it safely.
    func finish(_ reservation: Reservation, failed: Bool, now: Double = Date().timeIntervalSince1970) {
        state.withLockedValue { state in
            guard var entry = state.sources[reservation.source], entry.checking == reservation.id else { return }
            entry.checking = nil
            if failed { entry.failures = Self.appending(now, to: entry.failures, window: window, limit: limit) }
            state.sources[reservation.source] = entry
        }
    }

    /// Seconds until `source` may be checked again, when it is at the limit; `nil` otherwise.
    func retryAfter(_ source: String, now: Double = Date().timeIntervalSince1970) -> Double? {
        state.withLockedValue { state in
            let recent = (state.sources[source]?.failures ?? []).filter { now - $0 < window }
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return oldest + window - now
        }
    }

    /// Counts one failed check for `source` that needed no reservation (no hashing was involved).
    func record(_ source: String, now: Double = Date().timeIntervalSince1970) {
        state.withLockedValue { state in
            var entry = state.sources[source] ?? Entry()
            entry.failures = Self.appending(now, to: entry.failures, window: window, limit: limit)
            state.sources[source] = entry
            if state.sources.count > maxSources { prune(&state.sources, now: now) }
        }
    }

    private static func appending(_ now: Double, to failures: [Double], window: Double, limit: Int) -> [Double] {
        var recent = failures.filter { now - $0 < window }
        recent.append(now)
        if recent.count > limit { recent.removeFirst(recent.count - limit) }
        return recent
    }

    /// Sources with a check in flight are always kept: dropping one would admit a second check.
    private func prune(_ sources: inout [String: Entry], now: Double) {
        sources = sources.filter { $0.value.checking != nil || now - ($0.value.failures.last ?? 0) < window }
        if sources.count > maxSources {
            let keep = sources.sorted { $0.value.lastActive > $1.value.lastActive }.prefix(maxSources / 2)
            sources = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}
