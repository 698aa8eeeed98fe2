/// One problem found in the configuration, located as precisely as the source allows.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    /// The file path, or `environment` when the value came from an environment variable.
    public var source: String
    public var line: Int?
    public var keyPath: String
    public var message: String

    public var description: String {
        let location = line.map { "\(source):\($0)" } ?? source
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}

/// Every problem found in one configuration load; the server refuses to start on any of them.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]
    /// Warnings found on the way, so a refused configuration still shows them.
    public var warnings: [ConfigIssue]

    public init(issues: [ConfigIssue], warnings: [ConfigIssue] = []) {
        self.issues = issues
        self.warnings = warnings
    }

    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}
