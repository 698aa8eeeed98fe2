import Foundation

/// Leases in the store for work one replica at a time must do (the approval expiry sweep, storm
/// closing, retention): the holder renews while it works, and when it dies the lease expires and
/// another replica takes it over.
public protocol SingletonLeases: Sendable {
    /// Takes or renews `name` for `owner` until `now + duration`: `true` when `owner` holds it now.
    func acquire(_ name: String, owner: String, duration: Duration, now: Date) async throws -> Bool
    /// Gives `name` up at once when `owner` holds it (graceful shutdown), so another replica need not wait for expiry.
    func release(_ name: String, owner: String) async throws
}

/// One named singleton as a service sees it: ask ``holds()`` before each round of work.
///
/// ```swift
/// let turn = SingletonTurn(store: store, name: "approval-expiry")
/// if await turn.holds() { try await sweep() }
/// ```
public struct SingletonTurn: Sendable {
    public let name: String
    let leases: any SingletonLeases
    let owner: String
    let duration: Duration

    /// `duration` must exceed the service's interval between rounds, or the lease lapses between them.
    public init(store: any Store, name: String, owner: LeaseOwner = .thisProcess, duration: Duration = .seconds(60)) {
        self.name = name
        leases = store.singletons
        self.owner = owner.description
        self.duration = duration
    }

    /// Whether this process holds the lease now (taking or renewing it). A store that does not
    /// answer throws: the service logs it and skips the round (better skipped than done twice).
    public func holds(now: Date = Date()) async throws -> Bool {
        try await leases.acquire(name, owner: owner, duration: duration, now: now)
    }

    public func release() async {
        try? await leases.release(name, owner: owner)
    }
}
