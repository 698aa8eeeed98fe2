import Foundation
import HelpdeskCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether the store's folder has room to migrate: a migration that rebuilds a table copies it, and
/// the copy, the write-ahead log and the old pages together took 3–4× the store on a 700 MB one.
///
/// ```swift
/// let space = MigrationSpace(storeBytes: 700 << 20, available: 1 << 30)
/// space.needed     // 2.1 GB: three times the store and its log
/// space.isEnough   // false
/// ```
public struct MigrationSpace: Sendable, Equatable {
    /// The store file and its `-wal` log.
    public var storeBytes: Int64
    /// Free space for an unprivileged process in the store's folder.
    public var available: Int64

    public init(storeBytes: Int64, available: Int64) {
        self.storeBytes = storeBytes
        self.available = available
    }

    public var needed: Int64 { storeBytes * 3 }
    public var isEnough: Bool { available >= needed }

    /// The store at `path` and the free space beside it; `nil` when the file system does not say.
    public static func measure(store path: String) -> MigrationSpace? {
        guard let available = availableBytes(in: folder(of: path)) else { return nil }
        return MigrationSpace(storeBytes: fileSize(path) + fileSize(path + "-wal"), available: available)
    }

    /// `statvfs`'s blocks available to unprivileged users (root's reserve does not count).
    static func availableBytes(in folder: String) -> Int64? {
        var info = statvfs()
        guard statvfs(folder, &info) == 0 else { return nil }
        return Int64(clamping: UInt64(info.f_bavail) &* UInt64(info.f_frsize))
    }

    /// 0 for a file that is not there (no log yet).
    private static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int64(info.st_size)
    }

    private static func folder(of path: String) -> String {
        parentFolder(of: path)
    }
}
