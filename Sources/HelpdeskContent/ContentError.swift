/// Why content could not be read, in words an operator can act on.
public enum ContentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A configured folder that is not there: a typo must not silently leave the shipped files in force.
    case missingFolder(ContentKind, path: String)
    /// A configured file that is not there (or is a folder): the same, for `policies.file`.
    case missingFile(ContentKind, path: String)
    case unreadable(path: String, reason: String)
    case notText(path: String)
    /// Every file is read whole (the policy watcher every few seconds), so each has a size limit.
    case tooLarge(path: String, limit: Int)
    case invalidTemplate(location: String, reason: String)

    /// The folder or file the problem is about.
    public var path: String {
        switch self {
        case .missingFolder(_, let path), .missingFile(_, let path), .unreadable(let path, _), .notText(let path),
             .tooLarge(let path, _): path
        case .invalidTemplate(let location, _): location
        }
    }

    /// What is wrong with ``path``.
    public var reason: String {
        switch self {
        case .missingFolder(let kind, _):
            switch kind.layering {
            case .fileByFile: "no such folder (\(kind.configurationKey) names it to override the built-in \(kind) file by file)"
            case .folderReplaces: "no such folder (\(kind.configurationKey) names it to replace the built-in \(kind))"
            }
        case .missingFile(let kind, _):
            "no such file (\(kind.fileConfigurationKey ?? kind.configurationKey) names it to replace the built-in \(kind))"
        case .unreadable(_, let reason): "cannot read: \(reason)"
        case .notText: "not UTF-8 text"
        case .tooLarge(_, let limit): "larger than \(Self.size(limit)), the limit for a template, runbook or policy file"
        case .invalidTemplate(_, let reason): "not a valid Mustache template: \(reason)"
        }
    }

    public var description: String { "\(path): \(reason)" }

    private static func size(_ bytes: Int) -> String {
        bytes % 1_048_576 == 0 ? "\(bytes / 1_048_576) MiB" : "\(bytes) bytes"
    }
}
