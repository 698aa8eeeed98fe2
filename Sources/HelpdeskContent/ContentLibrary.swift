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

    /// - Parameters:
    ///   - shipped: the files compiled into the binary, keyed by their path in the package.
    ///   - folders: a folder per kind; a kind without one uses only the shipped files.
    public init(shipped: [String: String], folders: [ContentKind: String] = [:]) {
        self.shipped = shipped
        self.folders = folders
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

    /// The files of `kind` in force, sorted by name: the folder's over the built-in ones file by
    /// file, or only the folder's where the kind says so (policies).
    public func files(_ kind: ContentKind) throws(ContentError) -> [ContentFile] {
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
    /// a Kubernetes ConfigMap volume's `..data` links are not read twice.
    public static func read(_ kind: ContentKind, folder: String) throws(ContentError) -> [ContentFile] {
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
        let visible = names.filter { name in !name.split(separator: "/").contains { $0.hasPrefix(".") } }
        for name in visible.sorted() where kind.accepts(name) {
            let path = (folder as NSString).appendingPathComponent(name)
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            files.append(ContentFile(kind: kind, name: name, text: try readText(path), source: .folder(folder)))
        }
        return files
    }

    private static func readText(_ path: String) throws(ContentError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: describeFileError(error))
        }
        let text = String(decoding: data, as: UTF8.self)
        guard text.utf8.elementsEqual(data) else { throw .notText(path: path) }
        return text
    }
}
