import CompressNIO
import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a bundle could not be read back.
public enum BundleReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The recorded path is not a regular file (a folder, a FIFO, a device): never opened for reading.
    case notRegularFile(String)
    case tooLarge(limit: Int)
    case unreadable(path: String, reason: String)
    case corrupt(String)

    public var description: String {
        switch self {
        case .notRegularFile(let path): "\(path) is not a regular file"
        case .tooLarge(let limit): "the bundle is over \(limit) bytes"
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .corrupt(let why): "the bundle archive is damaged: \(why)"
        }
    }
}

extension IncidentBundle {
    /// The diagnosis summary inside every bundle (findings, evidence, recommended actions).
    public static let diagnosisMember = "diagnosis.json"

    /// One file of a bundle archive (`name` as written, without the `<id>/` folder), or `nil` when it
    /// has none. Bounded: the archive is inflated to at most `maxUncompressed` bytes, and the file
    /// must be at most `maxMember`, so a damaged or hostile archive cannot take the memory.
    public static func member(_ name: String, id: String, archive: Data, maxUncompressed: Int = 32 << 20,
                              maxMember: Int = 4 << 20) throws(BundleReadError) -> Data? {
        var compressed = ByteBuffer(bytes: archive)
        let tar: ByteBuffer
        do {
            tar = try compressed.decompress(with: .gzip(), maxSize: maxUncompressed)
        } catch {
            throw .corrupt("\(error)")
        }
        return try tarMember("\(id)/\(name)", in: Array(tar.readableBytesView), maxMember: maxMember)
    }

    /// Walks ustar headers (what ``TarArchive`` writes) to the member named `path`.
    static func tarMember(_ path: String, in tar: [UInt8], maxMember: Int) throws(BundleReadError) -> Data? {
        var offset = 0
        while offset + 512 <= tar.count {
            let header = tar[offset..<offset + 512]
            if header.allSatisfy({ $0 == 0 }) { return nil }
            func text(_ range: Range<Int>) -> String {
                let field = header[(offset + range.lowerBound)..<(offset + range.upperBound)]
                return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
            }
            let sizeText = text(124..<136).trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeText.isEmpty ? "0" : sizeText, radix: 8), size >= 0 else {
                throw .corrupt("a member's size is not octal")
            }
            let prefix = text(257..<263).hasPrefix("ustar") ? text(345..<500) : ""
            let name = prefix.isEmpty ? text(0..<100) : prefix + "/" + text(0..<100)
            let start = offset + 512
            guard size <= tar.count - start else { throw .corrupt("a member runs past the end") }
            let type = header[offset + 156]
            if name == path, type == UInt8(ascii: "0") || type == 0 {
                guard size <= maxMember else { throw .tooLarge(limit: maxMember) }
                return Data(tar[start..<start + size])
            }
            offset = start + (size + 511) / 512 * 512
        }
        return nil
    }
}

/// A bundle file opened for reading: only a regular file at the path given (no FIFO or device is
/// ever waited on), read in chunks so a download streams instead of sitting in memory.
public final class BundleFile: Sendable {
    public let path: String
    /// The size when it was opened; reads stop there.
    public let size: Int
    private let descriptor: Int32

    /// Opens `path`, refusing anything but a regular file of at most `limit` bytes.
    public init(path: String, limit: Int) throws(BundleReadError) {
        // O_NONBLOCK: a FIFO put in its place does not hang the open; fstat below then refuses it.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = close(descriptor)
            throw .unreadable(path: path, reason: reason)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            _ = close(descriptor)
            throw .notRegularFile(path)
        }
        guard Int(info.st_size) <= limit else {
            _ = close(descriptor)
            throw .tooLarge(limit: limit)
        }
        self.path = path
        self.size = Int(info.st_size)
        self.descriptor = descriptor
    }

    deinit {
        _ = close(descriptor)
    }

    /// The bytes from `offset`, at most `count` (fewer at the end; none past `size`).
    public func read(at offset: Int, count: Int) throws(BundleReadError) -> [UInt8] {
        let wanted = max(0, min(count, size - offset))
        guard wanted > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: wanted)
        while true {
            let got = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress, wanted, off_t(offset))
            }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
            return Array(bytes.prefix(got))
        }
    }

    /// The whole file (it is at most the `limit` it was opened with).
    public func readAll() throws(BundleReadError) -> Data {
        var data = Data()
        data.reserveCapacity(size)
        while data.count < size {
            let chunk = try read(at: data.count, count: 1 << 16)
            if chunk.isEmpty { break }
            data.append(contentsOf: chunk)
        }
        return data
    }
}
