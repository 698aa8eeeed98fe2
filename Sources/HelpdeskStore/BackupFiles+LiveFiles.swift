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
    /// The live file `path` is, or `nil`: the store, its `-wal`, `-shm` or `-journal`, or the audit
    /// checkpoint. Compared by real path (through links and `..`, also for files not there yet) and,
    /// for files that exist, by device and inode (hard links): `helpdesk backup STORE --force` once
    /// renamed a copy over the database the server had open.
    public static func liveFile(_ path: String, store storePath: String, checkpointFile: String?) -> String? {
        let live = ["", "-wal", "-shm", "-journal"].map { storePath + $0 } + (checkpointFile.map { [$0] } ?? [])
        let target = realPath(path)
        let targetID = fileID(path)
        return live.first { file in
            if realPath(file) == target { return true }
            if let targetID, let id = fileID(file) { return id == targetID }
            return false
        }
    }

    /// The real path of the folder holding `path`, with `path`'s name: works for a file not yet there.
    /// A link in the last place is resolved too, when it points somewhere.
    private static func realPath(_ path: String) -> String {
        if let resolved = resolve(path) { return resolved }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let name = (absolute as NSString).lastPathComponent
        guard let folder = resolve(parentFolder(of: absolute)) else { return (absolute as NSString).standardizingPath }
        return (folder as NSString).appendingPathComponent(name)
    }

    private static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private struct FileID: Equatable {
        let device: UInt64
        let inode: UInt64
    }

    /// Device and inode of what `path` names, through links; `nil` when there is nothing.
    private static func fileID(_ path: String) -> FileID? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileID(device: UInt64(truncatingIfNeeded: info.st_dev), inode: UInt64(truncatingIfNeeded: info.st_ino))
    }
}
