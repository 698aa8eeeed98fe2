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
    /// The bundle file, or ``storedBundlePrefix`` + id when the bundle is kept in the store itself.
    public var bundlePath: String
    public var bundleBytes: Int
    /// The archive, when it is to be kept in the store (every replica then serves it); written with
    /// the record, never read back with it (``IncidentIndex/bundle(id:)`` reads it).
    public var bundleContent: Data?

    /// `bundlePath` of a bundle kept in the store.
    public static let storedBundlePrefix = "store:"

    public var bundleIsInStore: Bool { bundlePath.hasPrefix(Self.storedBundlePrefix) }

    enum CodingKeys: String, CodingKey {
        case id, createdAt, target, trigger, summary, severity, findingCount, bundlePath, bundleBytes
    }

    public init(id: String, createdAt: Date, target: String, trigger: String, summary: String, severity: String,
                findingCount: Int, bundlePath: String, bundleBytes: Int, bundleContent: Data? = nil) {
        self.bundleContent = bundleContent
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
    /// The archive of a bundle kept in the store, or `nil` when there is none (pruned, or kept as a file).
    func bundle(id: String) async throws -> Data?
}

extension IncidentRecord {
    /// The bundle's bytes wherever it is kept: the store, or its file. `nil` when it is gone.
    public func readBundle(from store: any Store) async throws -> Data? {
        if bundleIsInStore { return try await store.incidents.bundle(id: id) }
        return FileManager.default.contents(atPath: bundlePath)
    }
}
