import Foundation

/// A static file of the web channel, served as it is (not a Mustache template): it ships in the binary
/// under `templates/web/` and a file of the same name in `approvals.pages_dir` replaces it.
public enum WebAsset: String, Sendable, CaseIterable {
    case stylesheet = "style.css"
    case script = "app.js"

    /// The file's name in `templates/web/` and in the configured folder.
    public var fileName: String { rawValue }

    /// The `Content-Type` to serve it with.
    public var contentType: String {
        switch self {
        case .stylesheet: "text/css; charset=utf-8"
        case .script: "text/javascript; charset=utf-8"
        }
    }
}

extension ContentLibrary {
    /// `asset` as in force: the configured web pages folder's file of that name, else the one in the
    /// binary. Read afresh on each call, as templates are; only the names of ``WebAsset`` can be asked
    /// for, so no request names a file of its own.
    ///
    ///     let css = try content.webAsset(.stylesheet)   // css.text, css.location
    public func webAsset(_ asset: WebAsset) throws(ContentError) -> ContentFile {
        let kind = ContentKind.webPages
        if let folder = folders[kind] {
            let path = (folder as NSString).appendingPathComponent(asset.fileName)
            switch try RegularFile.entry(at: path, limit: Self.maxFileBytes) {
            case .file(let bytes):
                return ContentFile(kind: kind, name: asset.fileName, text: try Self.text(bytes, path: path), source: .folder(folder))
            case .skipped(let reason):
                throw .unreadable(path: path, reason: reason)
            case .ignored:
                break
            }
        }
        return ContentFile(kind: kind, name: asset.fileName, text: shipped[kind.rawValue + "/" + asset.fileName] ?? "", source: .binary)
    }
}
