import Foundation

/// The index entry of one incident bundle: what was diagnosed, what was found, where the bundle is.
public struct IncidentRecord: Sendable, Equatable, Codable {
    public var id: String
    public var createdAt: Date
    public var target: String
    /// What started it: `symptom: …`, `alert: …` or `manual`.
    public var trigger: String
    public var summary: String
    /// The highest finding severity, or `healthy`.
    public var severity: String
    public var findingCount: Int
    public var bundlePath: String
    public var bundleBytes: Int

    public init(id: String, createdAt: Date, target: String, trigger: String, summary: String, severity: String,
                findingCount: Int, bundlePath: String, bundleBytes: Int) {
        self.id = id
        self.createdAt = createdAt
        self.target = target
        self.trigger = trigger
        self.summary = summary
        self.severity = severity
        self.findingCount = findingCount
        self.bundlePath = bundlePath
        self.bundleBytes = bundleBytes
    }
}

/// Reads and prunes the incident index (entries are written through ``ChangeSet/incidents``).
public protocol IncidentIndex: Sendable {
    func list(limit: Int) async throws -> [IncidentRecord]
    func incident(id: String) async throws -> IncidentRecord?
    /// Removes entries created before `cutoff` and returns them, so their bundle files can be deleted.
    func removeOlder(than cutoff: Date) async throws -> [IncidentRecord]
}
