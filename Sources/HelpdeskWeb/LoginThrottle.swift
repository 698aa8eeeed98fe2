import Foundation
import HelpdeskConfig
import HelpdeskCore

/// The sign-in's rate limit: failed passwords per source address and, apart, per user name (any case),
/// `failuresPerMinute` each in a sliding minute; beyond either, 429 with `Retry-After` and no hash.
///
/// Admitting an attempt takes its place in one step (``SourceFailureWindow``), so a burst of concurrent
/// posts cannot all pass before the first failure counts: attempts in flight count toward the limit, so
/// at most `failuresPerMinute` Argon2id checks a minute fail per address and per name. A sign-in clears
/// its name's failures (not its address's: one address may be guessing many names). A name over its
/// limit is still tried from an address with no failure this minute, so guessing a DBA's name from one
/// place cannot lock the DBA out during an incident; each such try that fails counts. Memory is bounded
/// by `maxKeys` addresses and as many names.
///
/// ```swift
/// guard case .granted(let attempt) = throttle.check(source: address, user: name) else { … }  // 429
/// let result = await pool.run { () -> UserDirectory.User? in
///     let user = passwords.verify(user: name, password: password)
///     throttle.finish(attempt, succeeded: user != nil)   // counted even if the caller went away
///     return user
/// }
/// if case .failure(let refusal) = result, !refusal.jobRan { throttle.release(attempt) }
/// ```
public final class LoginThrottle: Sendable {
    /// The places one attempt holds: finish it once with ``finish(_:succeeded:now:)``, or ``release(_:)`` it.
    public struct Attempt: Sendable, Equatable {
        let source: SourceFailureWindow.Reservation
        /// `nil` when the name was over its limit but this address had failed nothing (see ``check(source:user:now:)``).
        let user: SourceFailureWindow.Reservation?
        let userKey: String
    }

    public enum Admission: Sendable, Equatable {
        case granted(Attempt)
        /// Too many failures (or attempts under way) for this address or name: answer 429 with this
        /// `Retry-After`, in whole seconds.
        case limited(retryAfter: Int)
    }

    private let sources: SourceFailureWindow
    private let users: SourceFailureWindow

    /// - Parameters:
    ///   - failuresPerMinute: `web.login_failures_per_minute`.
    ///   - maxKeys: addresses (and names) remembered at most; the idle go first.
    public init(failuresPerMinute: Int, maxKeys: Int = 10_000) {
        let limit = max(1, failuresPerMinute)
        // Attempts run concurrently up to the limit (a double-clicked button, people behind one address).
        sources = SourceFailureWindow(limit: limit, window: 60, maxSources: maxKeys, concurrentChecks: limit)
        users = SourceFailureWindow(limit: limit, window: 60, maxSources: maxKeys, concurrentChecks: limit)
    }

    /// Admits one password check for `user` from `source` (the caller's address, after trusted proxies),
    /// taking its place under both limits, or says how long to wait.
    public func check(source: String, user: String, now: Double = Date().timeIntervalSince1970) -> Admission {
        let userKey = Self.userKey(user)
        let sourceReservation: SourceFailureWindow.Reservation
        switch sources.reserve(Self.sourceKey(source), now: now) {
        case .granted(let granted): sourceReservation = granted
        case .limited(let wait): return .limited(retryAfter: Self.seconds(wait))
        case .checking: return .limited(retryAfter: 1)
        }
        switch users.reserve(userKey, now: now) {
        case .granted(let userReservation):
            return .granted(Attempt(source: sourceReservation, user: userReservation, userKey: userKey))
        case .limited(let wait):
            // Someone guessing a name must not lock its owner out: an address that failed nothing this minute
            // still gets its try (its first failure then counts, for the name and for the address).
            // Clean: no failure this minute and no other check under way (this one holds the only place), so
            // a burst from one address still gets one try, not one per request in flight.
            let key = Self.sourceKey(source)
            if sources.recentFailures(key, now: now) == 0, sources.checksUnderWay(key) == 1 {
                return .granted(Attempt(source: sourceReservation, user: nil, userKey: userKey))
            }
            sources.finish(sourceReservation, failed: false, now: now)
            return .limited(retryAfter: Self.seconds(wait))
        case .checking:
            sources.finish(sourceReservation, failed: false, now: now)
            return .limited(retryAfter: 1)
        }
    }

    /// Ends an attempt whose password was checked: a failure counts for its address and its name; a
    /// success clears the name's failures.
    public func finish(_ attempt: Attempt, succeeded: Bool, now: Double = Date().timeIntervalSince1970) {
        sources.finish(attempt.source, failed: !succeeded, now: now)
        if let user = attempt.user {
            users.finish(user, failed: !succeeded, now: now)
        } else if !succeeded {
            users.record(attempt.userKey, now: now)
        }
        if succeeded { users.clear(attempt.userKey) }
    }

    /// Gives an attempt's places back uncounted: its password was never checked (the hashing pool was
    /// full, the server is stopping, the client went away first).
    public func release(_ attempt: Attempt) {
        sources.finish(attempt.source, failed: false)
        if let user = attempt.user { users.finish(user, failed: false) }
    }

    /// Addresses and names remembered now (for tests of the memory bound).
    public var trackedKeys: (sources: Int, users: Int) { (sources.trackedSources, users.trackedSources) }

    /// One bucket per caller however its address is written (an IPv6 /64 is one caller).
    static func sourceKey(_ source: String) -> String {
        TrustedProxies.bucketKey(source)
    }

    /// Names in any case are one name; only a bounded prefix is kept, whatever was posted.
    static func userKey(_ user: String) -> String {
        String(decoding: user.lowercased().utf8.prefix(WebSessions.maximumUserBytes), as: UTF8.self)
    }

    private static func seconds(_ wait: Double) -> Int {
        max(1, Int(min(wait, 3600).rounded(.up)))
    }
}
