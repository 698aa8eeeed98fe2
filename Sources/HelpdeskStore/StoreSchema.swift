/// Where a store's schema stands against the migrations this binary knows. Driver-agnostic, so
/// `helpdesk migrate` and the start-up check read the same for every store.
///
/// ```swift
/// status.version            // 12: migrations applied, of those this binary knows
/// status.latestVersion      // 14
/// status.pending            // ["v13-alert-seen-at", "v14-alert-groups"]
/// ```
public struct SchemaStatus: Sendable, Equatable {
    /// Every migration this binary knows, oldest first.
    public var known: [String]
    /// The known migrations the store has applied, oldest first.
    public var applied: [String]
    /// Applied migrations this binary does not know: the store was written by a newer helpdesk.
    public var unknown: [String]

    public init(known: [String], applied: [String], unknown: [String]) {
        self.known = known
        self.applied = applied
        self.unknown = unknown
    }

    /// Known migrations not applied yet, in the order they run.
    public var pending: [String] { known.filter { !applied.contains($0) } }
    public var isNewer: Bool { !unknown.isEmpty }
    public var isCurrent: Bool { unknown.isEmpty && pending.isEmpty }
    /// The schema version: how many known migrations are applied (0 for an empty store).
    public var version: Int { applied.count }
    /// The version this binary migrates to.
    public var latestVersion: Int { known.count }

    /// `12 (v12-storm-lifecycle)`, or `0 (empty)`.
    public var versionDescription: String {
        applied.last.map { "\(version) (\($0))" } ?? "0 (empty)"
    }

    /// `14 (v14-alert-groups)`: what this binary migrates to.
    public var latestDescription: String {
        known.last.map { "\(latestVersion) (\($0))" } ?? "0 (empty)"
    }
}

/// What opening a store did to its schema: where it was, and where it is now.
public struct MigrationReport: Sendable, Equatable {
    public var before: SchemaStatus
    public var after: SchemaStatus

    public init(before: SchemaStatus, after: SchemaStatus) {
        self.before = before
        self.after = after
    }

    /// The migrations this open applied, in order; empty when the schema was already current.
    public var applied: [String] { after.applied.filter { !before.applied.contains($0) } }
}
