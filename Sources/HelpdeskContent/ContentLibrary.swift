import Foundation
import HelpdeskCore

/// The templates, runbooks and policies in force: the ones shipped in the binary, with an optional
/// configured folder per kind on top. Nothing is read from the working directory unless a folder
/// is configured.
///
/// The shipped files are handed in (the executable's come from `HelpdeskShippedContent`), so the
/// libraries that read content do not carry the embedding build step with them.
///
/// ```swift
/// let content = ContentLibrary(shipped: files, folders: [.slackTemplates: "/etc/helpdesk/slack"])
/// let templates = try content.files(.slackTemplates)   // help.mustache from the folder, the rest shipped
/// ```
public struct ContentLibrary: Sendable {
    /// The shipped files, keyed by their path in the package (`runbooks/postgres-locks.yaml`).
    public let shipped: [String: String]
    /// The configured folder of each kind that has one.
    public let folders: [ContentKind: String]
    /// A configured file that is all the content of its kind (`policies.file`); only kinds whose
    /// folder replaces the shipped files take one.
    public let namedFiles: [ContentKind: String]
    /// The most one file of a configured folder may hold; the shipped files are far smaller.
    public static let maxFileBytes = 1_048_576

    /// - Parameters:
    ///   - shipped: the files compiled into the binary, keyed by their path in the package.
    ///   - folders: a folder per kind; a kind without one uses only the shipped files.
    ///   - namedFiles: one file per kind that replaces the shipped files (and a folder) of that kind.
    public init(shipped: [String: String], folders: [ContentKind: String] = [:], namedFiles: [ContentKind: String] = [:]) {
        self.shipped = shipped
        self.folders = folders
        self.namedFiles = namedFiles.filter { $0.key.layering == .folderReplaces }
    }

    /// Where the content of `kind` in force comes from, for messages: the named file or folder
    /// with its configuration key, or `nil` for the shipped files.
    public func origin(_ kind: ContentKind) -> (path: String, key: String)? {
        if let file = namedFiles[kind], let key = kind.fileConfigurationKey { return (path: file, key: key) }
        return folders[kind].map { (path: $0, key: kind.configurationKey) }
    }

    /// The shipped files of `kind`, sorted by name.
    public func shippedFiles(_ kind: ContentKind) -> [ContentFile] {
        let prefix = kind.rawValue + "/"
        return shipped.compactMap { entry -> ContentFile? in
            let (path, text) = entry
            guard path.hasPrefix(prefix) else { return nil }
            let name = String(path.dropFirst(prefix.count))
            guard kind.accepts(name), kind.readsSubfolders || !name.contains("/") else { return nil }
            return ContentFile(kind: kind, name: name, text: text, source: .binary)
        }.sorted { $0.name < $1.name }
    }

    /// The files of `kind` in force, sorted by name: the named file alone (`policies.file`), else
    /// the folder's over the built-in ones file by file, or only the folder's where the kind says so
    /// (policies). Read afresh on every call, so a reload sees a changed file.
    public func files(_ kind: ContentKind) throws(ContentError) -> [ContentFile] {
        if let file = namedFiles[kind] { return [try Self.read(kind, file: file)] }
        guard let folder = folders[kind] else { return shippedFiles(kind) }
        let overrides = try Self.read(kind, folder: folder)
        switch kind.layering {
        case .folderReplaces:
            return overrides
        case .fileByFile:
            var merged = Dictionary(uniqueKeysWithValues: shippedFiles(kind).map { ($0.name, $0) })
            for file in overrides { merged[file.name] = file }
            return merged.values.sorted { $0.name < $1.name }
        }
    }

    /// The files of `kind` in one folder, without the built-in ones. Hidden entries are skipped, so
    /// a Kubernetes ConfigMap volume's `..data` links are not read twice; so are entries that are not
    /// regular files (see ``skippedEntries(_:)``). Each file may hold at most ``maxFileBytes``.
    public static func read(_ kind: ContentKind, folder: String) throws(ContentError) -> [ContentFile] {
        try scan(kind, folder: folder).files
    }

    /// The one file `path` names as all the content of `kind`, whatever its name ends with. It must be
    /// a regular file (a link to one is followed, as a ConfigMap mounts it) of at most ``maxFileBytes``.
    public static func read(_ kind: ContentKind, file path: String) throws(ContentError) -> ContentFile {
        switch try RegularFile.entry(at: path, limit: maxFileBytes) {
        case .file(let bytes):
            return ContentFile(kind: kind, name: (path as NSString).lastPathComponent, text: try text(bytes, path: path),
                               source: .file(path))
        case .skipped(let reason):
            throw .unreadable(path: path, reason: reason)
        case .ignored:
            throw .missingFile(kind, path: path)
        }
    }

    /// The entries of `kind`'s configured folder that are not read because they are not regular
    /// files (a FIFO, a socket, a link to nothing): for a warning at start and in `helpdesk config check`.
    public func skippedEntries(_ kind: ContentKind) -> [SkippedEntry] {
        guard let folder = folders[kind] else { return [] }
        return (try? Self.scan(kind, folder: folder).skipped) ?? []
    }

    static func scan(_ kind: ContentKind, folder: String)
        throws(ContentError) -> (files: [ContentFile], skipped: [SkippedEntry]) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .missingFolder(kind, path: folder)
        }
        let names: [String]
        do {
            names = try kind.readsSubfolders
                ? manager.subpathsOfDirectory(atPath: folder) : manager.contentsOfDirectory(atPath: folder)
        } catch {
            throw .unreadable(path: folder, reason: describeFileError(error))
        }
        var files: [ContentFile] = []
        var skipped: [SkippedEntry] = []
        let visible = names.filter { name in !name.split(separator: "/").contains { $0.hasPrefix(".") } }
        for name in visible.sorted() where kind.accepts(name) {
            let path = (folder as NSString).appendingPathComponent(name)
            switch try RegularFile.entry(at: path, limit: maxFileBytes) {
            case .file(let bytes):
                let decoded = try text(bytes, path: path)
                files.append(ContentFile(kind: kind, name: name, text: decoded, source: .folder(folder)))
            case .skipped(let reason):
                skipped.append(SkippedEntry(path: path, reason: reason))
            case .ignored:
                continue
            }
        }
        return (files, skipped)
    }

    static func text(_ bytes: [UInt8], path: String) throws(ContentError) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.elementsEqual(bytes) else { throw .notText(path: path) }
        return text
    }
}

/// A folder entry that is not read because it is not a regular file, and what it is instead.
public struct SkippedEntry: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): skipped, \(reason)" }
}
