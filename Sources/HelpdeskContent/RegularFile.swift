#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads content files from configured folders: regular files only, whole, and never more than a
/// limit. A symbolic link is followed (a ConfigMap volume's files are links) but its target must be
/// a regular file, so a FIFO cannot hang a start and a device is never opened.
enum RegularFile {
    /// What a folder entry turned out to be.
    enum Entry {
        case file([UInt8])
        /// Not read, for this reason: worth a warning.
        case skipped(String)
        /// Not read, and not worth a word: a folder, or an entry removed since the folder was listed.
        case ignored
    }

    static func entry(at path: String, limit: Int) throws(ContentError) -> Entry {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let failure = errno
            var link = stat()
            if failure == ENOENT, lstat(path, &link) == 0, link.st_mode & S_IFMT == S_IFLNK {
                return .skipped("a symbolic link to nothing")
            }
            if failure == ENOENT { return .ignored }
            throw .unreadable(path: path, reason: String(cString: strerror(failure)))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .ignored
        default: return .skipped(describe(info.st_mode))
        }
        guard Int(info.st_size) <= limit else { throw .tooLarge(path: path, limit: limit) }
        // O_NONBLOCK: should the entry become a FIFO after the look above, opening it does not wait.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { _ = close(descriptor) }
        guard fstat(descriptor, &info) == 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return .skipped(describe(info.st_mode)) }
        return .file(try readAll(descriptor, path: path, limit: limit))
    }

    /// The whole file, checked against `limit` as it is read: it may have grown since `stat`.
    private static func readAll(_ descriptor: Int32, path: String, limit: Int) throws(ContentError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress, buffer.count)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            if bytes.count > limit { throw .tooLarge(path: path, limit: limit) }
        }
    }

    /// What a non-regular file is, for the warning.
    private static func describe(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO, not a regular file"
        case S_IFSOCK: "a socket, not a regular file"
        case S_IFCHR, S_IFBLK: "a device, not a regular file"
        default: "not a regular file"
        }
    }
}
