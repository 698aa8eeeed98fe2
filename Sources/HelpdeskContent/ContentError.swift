/// Why content could not be read, in words an operator can act on.
public enum ContentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A configured folder that is not there: a typo must not silently fall back to the shipped files.
    case missingFolder(ContentKind, path: String)
    case unreadable(path: String, reason: String)
    case notText(path: String)
    case invalidTemplate(location: String, reason: String)

    public var description: String {
        switch self {
        case .missingFolder(let kind, let path):
            switch kind.layering {
            case .fileByFile:
                "\(kind.configurationKey): no such folder \(path) (its files override the built-in \(kind) one by one; " +
                    "remove the key to use only the built-in ones)"
            case .folderReplaces:
                "\(kind.configurationKey): no such folder \(path) (its files replace the built-in \(kind); " +
                    "remove the key to use the built-in ones)"
            }
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .notText(let path): "\(path) is not UTF-8 text"
        case .invalidTemplate(let location, let reason): "\(location): not a valid Mustache template: \(reason)"
        }
    }
}
