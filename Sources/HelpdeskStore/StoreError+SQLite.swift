import GRDB

extension StoreError {
    /// SQLite's failures of the disk or the file, not of the statement, as ``unavailable(reason:)``:
    /// nothing was recorded and the sender may try again (a Slack command answers "cannot record",
    /// a webhook 503). Only SQLite's own message is kept, not GRDB's description with the statement.
    static func mapping(_ error: any Error) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        let message = error.message ?? "SQLite error \(error.extendedResultCode.rawValue)"
        switch error.resultCode {
        case .SQLITE_FULL:
            return StoreError.unavailable(reason: "the disk holding the store is full (\(message))")
        case .SQLITE_READONLY, .SQLITE_CANTOPEN:
            // Lasts until someone acts: the volume went read-only, or the file was replaced or removed.
            return StoreError.unavailable(reason: "the store file cannot be written (\(message)): check its volume and "
                                              + "permissions, and restart helpdesk if the file was moved or replaced")
        case .SQLITE_BUSY:
            return StoreError.unavailable(reason: "another process held the store's write lock longer than store.busy_timeout "
                                              + "(\(message)): is a helpdesk command running against the same file?")
        case .SQLITE_IOERR, .SQLITE_NOMEM, .SQLITE_PROTOCOL:
            return StoreError.unavailable(reason: "SQLite could not write the store (\(message)): check the disk "
                                              + "(the kernel log) and the process's memory")
        default:
            return error
        }
    }
}
