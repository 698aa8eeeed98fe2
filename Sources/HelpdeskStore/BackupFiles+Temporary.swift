import Crypto
import Foundation
import HelpdeskCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension BackupFiles {
    /// A new empty file beside `destination`, readable by its owner only (SQLite gives the files it
    /// creates beside it the same mode): `.NAME.tmp-XXXXXXXX`.
    static func createPrivateTemporary(beside destination: String) throws(BackupError) -> String {
        let name = ".\((destination as NSString).lastPathComponent).tmp-\(randomToken(length: 8))"
        let path = (folder(of: destination) as NSString).appendingPathComponent(name)
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .unwritable(path: destination, reason: String(cString: strerror(errno))) }
        _ = close(descriptor)
        return path
    }

    /// Gives the finished copy its name. Without `overwrite` a hard link is made, which never
    /// replaces a file that appeared while the copy ran.
    static func publish(_ temporary: String, as destination: String, overwrite: Bool) throws(BackupError) {
        var linked = false
        if !overwrite { linked = try hardLink(temporary, destination) }
        if linked {
            _ = unlink(temporary)
        } else {
            guard rename(temporary, destination) == 0 else {
                throw .unwritable(path: destination, reason: String(cString: strerror(errno)))
            }
        }
        syncDirectory(of: destination)
    }

    /// `true` when linked; throws when `destination` exists; `false` where the filesystem has no hard
    /// links (the check made before the copy then has to do).
    private static func hardLink(_ source: String, _ destination: String) throws(BackupError) -> Bool {
        if link(source, destination) == 0 { return true }
        if errno == EEXIST { throw .exists(path: destination) }
        if FileManager.default.fileExists(atPath: destination) { throw .exists(path: destination) }
        return false
    }

    /// So the new name survives a power loss, not only the file's contents.
    private static func syncDirectory(of path: String) {
        let descriptor = open(folder(of: path), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        _ = close(descriptor)
    }

    static func folder(of path: String) -> String {
        parentFolder(of: path)
    }

    /// Removes a copy that did not finish, and any journal SQLite left beside it.
    static func remove(_ path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            try? removeRegularFile(path + suffix)
        }
    }

    /// Removes what interrupted backups of `storePath` left in `directory` (a kill, a crash, a full
    /// disk): `.NAME.tmp-XXXXXXXX` with SQLite's `-journal`, `-wal` or `-shm` beside it, for NAME a
    /// backup name of this store or its manifest, last changed more than `age` before `now` (a backup
    /// running in another process keeps writing its own). Regular files only, never through a link;
    /// returns the paths removed.
    @discardableResult
    public static func removeStaleTemporaries(in directory: String, store storePath: String, olderThan age: TimeInterval = 3600,
                                              now: Date) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for name in names where isTemporary(name, store: storePath) {
            let path = (directory as NSString).appendingPathComponent(name)
            // attributesOfItem is an lstat: a link is seen as a link, and skipped.
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular,
                  let changed = attributes[.modificationDate] as? Date, changed < now.addingTimeInterval(-age)
            else { continue }
            if unlink(path) == 0 { removed.append(path) }
        }
        return removed.sorted()
    }

    /// `.helpdesk-20260314T061500Z.sqlite.tmp-k3x9m2pq-journal` and the like: nothing looser.
    static func isTemporary(_ name: String, store storePath: String) -> Bool {
        var text = Substring(name)
        guard text.first == "." else { return false }
        text = text.dropFirst()
        for suffix in ["-journal", "-wal", "-shm"] where text.hasSuffix(suffix) {
            text = text.dropLast(suffix.count)
            break
        }
        let token = text.suffix(8)
        guard token.count == 8, token.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber) }) else { return false }
        text = text.dropLast(8)
        guard text.hasSuffix(".tmp-") else { return false }
        text = text.dropLast(5)
        if text.hasSuffix(".manifest.json") { text = text.dropLast(".manifest.json".count) }
        let backup = String(text)
        return parse(backup, store: storePath, kind: .scheduled) != nil || parse(backup, store: storePath, kind: .manual) != nil
    }

    /// Copies `source` into a new private file beside `storePath` through one descriptor, hashing
    /// the bytes as they pass: what is then checked and restored is exactly what was hashed, whatever
    /// happens to `source` meanwhile.
    static func privateCopy(of source: String, beside storePath: String) throws(BackupError) -> (path: String, sha256: String, bytes: Int64) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .unreadable(path: source, reason: String(cString: strerror(errno))) }
        defer { _ = close(input) }
        var info = stat()
        guard fstat(input, &info) == 0 else { throw .unreadable(path: source, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) else { throw .unreadable(path: source, reason: "not a regular file") }
        try? FileManager.default.createDirectory(atPath: folder(of: storePath), withIntermediateDirectories: true)
        let path = try createPrivateTemporary(beside: storePath + ".restore")
        let output = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard output >= 0 else {
            Self.remove(path)
            throw .unwritable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { _ = close(output) }
        do throws(BackupError) {
            let (digest, bytes) = try stream(input, source: source) { (chunk: UnsafeRawBufferPointer) throws(BackupError) in
                var offset = 0
                while offset < chunk.count {
                    let written = write(output, chunk.baseAddress! + offset, chunk.count - offset)
                    if written < 0, errno == EINTR { continue }
                    guard written > 0 else { throw .unwritable(path: path, reason: String(cString: strerror(errno))) }
                    offset += written
                }
            }
            return (path, digest, bytes)
        } catch {
            Self.remove(path)
            throw error
        }
    }

    /// SHA-256 (lowercase hex) and size of the file at `path`.
    static func sha256(ofFile path: String) throws(BackupError) -> (sha256: String, bytes: Int64) {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { _ = close(input) }
        return try stream(input, source: path) { (_: UnsafeRawBufferPointer) throws(BackupError) in }
    }

    /// Reads `descriptor` to its end in 1 MiB chunks, hashing each before handing it to `body`.
    private static func stream(_ descriptor: Int32, source: String,
                               _ body: (UnsafeRawBufferPointer) throws(BackupError) -> Void) throws(BackupError) -> (String, Int64) {
        var hasher = SHA256()
        var total: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress!, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw .unreadable(path: source, reason: String(cString: strerror(errno))) }
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            hasher.update(bufferPointer: chunk)
            try body(chunk)
            total += Int64(count)
        }
        return (Hex.encode(hasher.finalize()), total)
    }
}
