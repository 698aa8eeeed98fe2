import Foundation

/// Creates `path` and any missing parents, each mode 0700 (as the XDG base-directory layout asks of
/// `~/.local/state`), and makes the folder itself 0700 whatever the umask. For folders that hold
/// the store, its backups and incident bundles: none of them is for other users to read.
public func createPrivateDirectory(_ path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o700])
    try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
}
