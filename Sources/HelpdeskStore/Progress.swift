import Foundation

/// How far a follower of the store (secbot over the audit log, govbot's schedule) has got: a named
/// position written in the same ``ChangeSet`` as the work it records, so after a crash the follower
/// resumes exactly where its last commit left it (no gap, nothing done twice).
///
/// Without `expected` a mark only moves forward (a late write of an older position changes nothing).
/// With it, the write is a compare-and-set: the whole change set fails with
/// ``StoreError/markMoved(name:expected:found:)`` unless the mark is still at `expected` (an absent
/// mark is at 0) — so two followers of one log cannot both record the same stretch — and it may move
/// the mark back (a follower rewinding after the log was cut short).
public struct ProgressMark: Sendable, Equatable {
    public var name: String
    public var position: Int64
    public var expected: Int64?

    public init(name: String, position: Int64, expected: Int64? = nil) {
        self.name = name
        self.position = position
        self.expected = expected
    }
}

/// Reads progress marks; they are written through ``ChangeSet/progress``.
public protocol ProgressStore: Sendable {
    /// The position last committed under `name`; `nil` when none was ever written. One indexed read.
    func position(_ name: String) async throws -> Int64?
}
