import GRDB
import GRDBSQLite

/// A statement GRDB prepared and caches, bound and stepped with SQLite's own calls: for the few
/// statements on the single writer's hot path, where GRDB's argument boxes and rows cost more than
/// SQLite's work. Only inside a transaction. Nothing observes the store's changes through GRDB (no
/// transaction observers, no `transactionDate`), so nothing misses these. Errors are GRDB's
/// `DatabaseError`, as GRDB would throw them. Text is bound with its length, a NUL included (GRDB's
/// binding ends at one): callers store text that cannot hold one (payloads refuse NUL, drafts replace it).
struct RawStatement {
    private let handle: OpaquePointer
    private let connection: OpaquePointer
    /// Kept for its text in errors only: GRDB trims it on every read.
    private let statement: Statement

    /// Throws when no transaction is open: GRDB refuses statements after a rollback a caller did not
    /// see through (its aborted-transaction guard), and these statements bypass it; run alone, one would
    /// commit by itself, outside its group.
    init(_ statement: Statement, in db: Database) throws {
        self.statement = statement
        handle = statement.sqliteStatement
        connection = db.sqliteConnection!
        guard sqlite3_get_autocommit(connection) == 0 else {
            throw DatabaseError(resultCode: .SQLITE_ABORT, message: "no transaction is open (it was rolled back)", sql: statement.sql)
        }
        // A statement GRDB used before may not have been reset: start clean.
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// `true` with a row to read, `false` when the statement is done. Checked at each step, not only
    /// once: GRDB statements run in between, and a rollback among them must not let this commit alone.
    func step() throws -> Bool {
        guard sqlite3_get_autocommit(connection) == 0 else {
            throw DatabaseError(resultCode: .SQLITE_ABORT, message: "no transaction is open (it was rolled back)", sql: statement.sql)
        }
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = DatabaseError(resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)),
                                      message: String(cString: sqlite3_errmsg(connection)), sql: statement.sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Ready for the next use (GRDB resets before its own uses too). The bindings go too: SQLite's copies
    /// of the last values (a notification's labels) would otherwise wait in the cached statement.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func int64(at column: Int32) -> Int64 {
        sqlite3_column_int64(handle, column)
    }

    /// A TEXT column (an empty string for NULL).
    func text(at column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, column))), as: UTF8.self)
    }

    func bind(_ value: Int64, at index: Int32) throws {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    func bind(_ value: Double, at index: Int32) throws {
        try check(sqlite3_bind_double(handle, index, value))
    }

    /// NULL for `nil`. SQLite copies the bytes (SQLITE_TRANSIENT): the string's storage may not outlive the call.
    func bind(_ value: String?, at index: Int32) throws {
        guard let value else { return try check(sqlite3_bind_null(handle, index)) }
        // Over 2 GB a length does not fit SQLite's: refused as SQLite refuses what is over its limit.
        guard let length = Int32(exactly: value.utf8.count) else { return try check(SQLITE_TOOBIG) }
        // The length given: SQLite then reads exactly the UTF-8 bytes, whatever they hold.
        try check(value.withCString { text in sqlite3_bind_text(handle, index, text, length, Self.transient) })
    }

    /// A binding SQLite refused (a value over its length limit) fails the write, never runs it with NULL.
    private func check(_ code: Int32) throws {
        guard code != SQLITE_OK else { return }
        throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errstr(code)), sql: statement.sql)
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
