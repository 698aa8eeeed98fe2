import Foundation
import HelpdeskCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension SQLiteStore {
    /// Makes a missing store private before SQLite touches it: the folder mode 0700 when this creates
    /// it, and an empty file mode 0600 (SQLite gives its `-wal`, `-shm` and `-journal` files the main
    /// file's mode). The audit log and approvals must not be world-readable under the usual umask.
    /// An existing folder or file keeps its mode: the operator chose it.
    static func prepareLocation(_ path: String) throws(StoreError) {
        let directory = parentFolder(of: path)
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try createPrivateDirectory(directory)
            } catch {
                throw .cannotOpen(path: path, reason: "cannot create the folder \(directory): \(describeFileError(error))")
            }
        }
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            // The umask may have taken bits away; SQLite must still be able to write.
            _ = fchmod(descriptor, 0o600)
            closeDescriptor(descriptor)
        } else if errno != EEXIST {
            throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
    }
}

/// Outside the extension: there `close` names the store's own method.
private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}
