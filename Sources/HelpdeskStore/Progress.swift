import Foundation

/// How far a follower of the store (secbot over the audit log, govbot's schedule) has got: a named
/// position written in the same ``ChangeSet`` as the work it records, so after a crash the follower
/// resumes exactly where its last commit left it (no gap, nothing done twice).
public struct ProgressMark: Sendable, Equatable {
    public var name: String
    public var position: Int64

    public init(name: String, position: Int64) {
        self.name = name
        self.position = position
    }
}

/// Reads progress marks; they are written through ``ChangeSet/progress``.
public protocol ProgressStore: Sendable {
    /// The position last committed under `name`; `nil` when none was ever written. One indexed read.
    func position(_ name: String) async throws -> Int64?
}
