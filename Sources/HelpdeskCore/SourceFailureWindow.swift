import Foundation
import Synchronization

/// Failed checks per key (a source address, a user name) in a sliding window: a key with `limit`
/// failures in the last `window` seconds is refused before any hashing until the oldest of them leaves
/// the window. Unlike a token bucket, no failure is forgiven early: the cost a key can make the server
/// spend on Argon2id is at most `limit` passes a window. Memory stays bounded: past `maxSources`, keys
/// whose failures have all left the window go first, then the oldest.
///
/// A check is admitted with ``reserve(_:now:)``, which decides and takes the place in one step, so
/// concurrent requests cannot all pass the test before the first failure is counted: a key has at most
/// `concurrentChecks` checks queued or running, and each counts toward `limit` until
/// ``finish(_:failed:now:)``. Bearer keys allow one at a time per address; the web sign-in allows a few,
/// so people behind one address can sign in together.
///
/// ```swift
/// guard case .granted(let reservation) = window.reserve(source) else { return }  // 429
/// window.finish(reservation, failed: !matched)
/// ```
public final class SourceFailureWindow: Sendable {
    /// The right to run one check for a key; finishing it twice counts once.
    public struct Reservation: Sendable, Equatable {
        public let source: String
        let id: UInt64
    }

    public enum Admission: Sendable, Equatable {
        case granted(Reservation)
        /// At the limit: seconds until the oldest failure leaves the window.
        case limited(retryAfter: Double)
        /// `concurrentChecks` checks of this key are queued or running already, or the checks in flight
        /// would reach the limit together with the failures.
        case checking
    }

    private struct Entry {
        var failures: [Double] = []
        /// The reservations of the checks in flight.
        var checking: Set<UInt64> = []

        /// For pruning: a key with a check in flight counts as active now.
        var lastActive: Double { checking.isEmpty ? failures.last ?? 0 : .infinity }
    }

    private struct State {
        var sources: [String: Entry] = [:]
        var lastID: UInt64 = 0
    }

    public let limit: Int
    public let window: Double
    public let maxSources: Int
    public let concurrentChecks: Int
    private let state = Mutex(State())

    public init(limit: Int = 5, window: Double = 60, maxSources: Int = 10_000, concurrentChecks: Int = 1) {
        self.limit = max(1, limit)
        self.window = window
        self.maxSources = max(2, maxSources)
        self.concurrentChecks = max(1, concurrentChecks)
    }

    /// Admits one check for `source` and takes its place, or says why not, in one step.
    public func reserve(_ source: String, now: Double = Date().timeIntervalSince1970) -> Admission {
        state.withLock { state in
            var entry = state.sources[source] ?? Entry()
            guard entry.checking.count < concurrentChecks else { return .checking }
            entry.failures = entry.failures.filter { now - $0 < window }
            // The check about to start counts too: failures + 1 may not pass the limit.
            if entry.failures.count >= limit, let oldest = entry.failures.first {
                return .limited(retryAfter: oldest + window - now)
            }
            // Nor may the checks in flight together with it: each of them may fail too.
            guard entry.failures.count + entry.checking.count < limit else { return .checking }
            state.lastID += 1
            entry.checking.insert(state.lastID)
            state.sources[source] = entry
            if state.sources.count > maxSources { prune(&state.sources, now: now) }
            return .granted(Reservation(source: source, id: state.lastID))
        }
    }

    /// Ends a reserved check, counting a failure when `failed`. A reservation that has ended already
    /// (or was never granted) changes nothing, so every path may finish it safely.
    public func finish(_ reservation: Reservation, failed: Bool, now: Double = Date().timeIntervalSince1970) {
        state.withLock { state in
            guard var entry = state.sources[reservation.source], entry.checking.contains(reservation.id) else { return }
            entry.checking.remove(reservation.id)
            if failed { entry.failures = Self.appending(now, to: entry.failures, window: window, limit: limit) }
            state.sources[reservation.source] = entry
        }
    }

    /// Seconds until `source` may be checked again, when it is at the limit; `nil` otherwise.
    public func retryAfter(_ source: String, now: Double = Date().timeIntervalSince1970) -> Double? {
        state.withLock { state in
            let recent = (state.sources[source]?.failures ?? []).filter { now - $0 < window }
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return oldest + window - now
        }
    }

    /// Checks of `source` under way now.
    public func checksUnderWay(_ source: String) -> Int {
        state.withLock { $0.sources[source]?.checking.count ?? 0 }
    }

    /// Failed checks of `source` within the window.
    public func recentFailures(_ source: String, now: Double = Date().timeIntervalSince1970) -> Int {
        state.withLock { state in
            (state.sources[source]?.failures ?? []).filter { now - $0 < window }.count
        }
    }

    /// Counts one failed check for `source` that needed no reservation (no hashing was involved).
    public func record(_ source: String, now: Double = Date().timeIntervalSince1970) {
        state.withLock { state in
            var entry = state.sources[source] ?? Entry()
            entry.failures = Self.appending(now, to: entry.failures, window: window, limit: limit)
            state.sources[source] = entry
            if state.sources.count > maxSources { prune(&state.sources, now: now) }
        }
    }

    /// Forgets the failures of `source` (a person who signed in); checks in flight keep their places.
    public func clear(_ source: String) {
        state.withLock { state in
            guard var entry = state.sources[source] else { return }
            entry.failures = []
            if entry.checking.isEmpty { state.sources[source] = nil } else { state.sources[source] = entry }
        }
    }

    /// Keys tracked now (for tests of the memory bound).
    public var trackedSources: Int {
        state.withLock { $0.sources.count }
    }

    private static func appending(_ now: Double, to failures: [Double], window: Double, limit: Int) -> [Double] {
        var recent = failures.filter { now - $0 < window }
        recent.append(now)
        if recent.count > limit { recent.removeFirst(recent.count - limit) }
        return recent
    }

    /// Keys with a check in flight are always kept: dropping one would admit more checks.
    private func prune(_ sources: inout [String: Entry], now: Double) {
        sources = sources.filter { !$0.value.checking.isEmpty || now - ($0.value.failures.last ?? 0) < window }
        if sources.count > maxSources {
            let keep = sources.sorted { $0.value.lastActive > $1.value.lastActive }.prefix(maxSources / 2)
            sources = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}
