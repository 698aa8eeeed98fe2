/// One file of shipped or overriding content, with where it came from.
public struct ContentFile: Sendable, Equatable {
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        /// Compiled into the executable.
        case binary
        /// Read from this configured folder.
        case folder(String)
        /// This configured file, all the content of its kind (`policies.file`).
        case file(String)

        public var description: String {
            switch self {
            case .binary: "binary"
            case .folder(let path), .file(let path): path
            }
        }
    }

    public var kind: ContentKind
    /// The path inside the kind's folder: `help.mustache`, `postgres-locks.yaml`.
    public var name: String
    public var text: String
    public var source: Source

    public init(kind: ContentKind, name: String, text: String, source: Source) {
        self.kind = kind
        self.name = name
        self.text = text
        self.source = source
    }

    /// Where the file is, for messages and listings: its path on disk, or `built-in runbooks/x.yaml`.
    public var location: String {
        switch source {
        case .binary: "built-in \(kind.rawValue)/\(name)"
        case .folder(let folder): folder.hasSuffix("/") ? folder + name : folder + "/" + name
        case .file(let path): path
        }
    }

    /// A template's name as code and partials use it: the file name without `.mustache`
    /// (`approval_request.html` for `approval_request.html.mustache`).
    public var templateName: String {
        name.hasSuffix(".mustache") ? String(name.dropLast(".mustache".count)) : name
    }
}
