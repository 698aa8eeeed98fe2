import CompressNIO
import Foundation
import HelpdeskCore
import NIOCore

/// One incident bundle: the files it holds, written as `<id>.tar.gz` with everything under `<id>/`.
public struct IncidentBundle: Sendable {
    public var id: String
    public var created: Date
    /// Path inside the bundle folder → contents, e.g. `manifest.json`, `tools/01-blocking_locks.json`.
    public var files: [(name: String, contents: Data)]

    public init(id: String, created: Date, files: [(name: String, contents: Data)]) {
        self.id = id
        self.created = created
        self.files = files
    }

    /// A new incident id: `inc_` + UTC time + random suffix, sortable by creation.
    public static func newID(at date: Date = Date()) -> String {
        let stamp = date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).dateSeparator(.omitted).timeSeparator(.omitted))
            .replacingOccurrences(of: "T", with: "-").replacingOccurrences(of: "Z", with: "")
        return "inc_\(stamp)_" + randomToken(length: 6)
    }

    /// The gzip-compressed tar archive.
    public func archive() throws -> Data {
        var tar = TarArchive()
        for file in files {
            try tar.addFile("\(id)/\(file.name)", contents: file.contents, modified: created)
        }
        var buffer = ByteBuffer(bytes: tar.finished())
        let compressed = try buffer.compress(with: CompressionAlgorithm.gzip())
        return Data(compressed.readableBytesView)
    }

    /// Writes the archive into `directory` (created owner-only if missing: bundles hold what the
    /// tools read) atomically; returns its absolute path and size.
    public func write(into directory: String) throws -> (path: String, bytes: Int) {
        let folder = URL(fileURLWithPath: directory).standardizedFileURL.path
        if !FileManager.default.fileExists(atPath: folder) { try createPrivateDirectory(folder) }
        let data = try archive()
        let path = (folder as NSString).appendingPathComponent("\(id).tar.gz")
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        return (path, data.count)
    }
}
