import Dispatch
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// Copies the write-ahead log back into the database file on its own connection and thread.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold, fsyncs included,
/// so every few thousand writes one caller waited milliseconds for it (the signed ack's p99). A
/// passive checkpoint on another connection needs no write lock: the writer keeps committing while
/// it runs. The writer's own automatic checkpoint stays on, at a higher threshold, as a backstop
/// should these fall behind.
final class WALCheckpointer: Sendable {
    /// The writer connection's `wal_autocheckpoint` (pages) while this one runs: 800 MB of 4 KB pages.
    ///
    /// Under steady writes the log never starts over on its own (it restarts only at a commit that
    /// begins with every frame copied, and a writer committing every few milliseconds always adds
    /// frames while this copies), so this backstop is where it starts over: the writer checkpoints
    /// and fsyncs inside a commit. At 20,000 pages an alert storm reached it every fraction of a
    /// second (ingestion p99 ~60 ms on the bench box); at 200,000 every few seconds (p99 35-41 ms).
    /// SQLite does not shrink the log file while the store is open: it keeps the size it reached.
    static let backstopPages = 200_000
    /// Passes a checkpoint makes to catch up with a writer that keeps committing.
    static let maxPasses = 16
    /// Commits within this delay share one checkpoint. Shorter spreads the copying: at 100 ms an alert
    /// storm's checkpoint took a core in bursts, and the requests waiting behind them made ingestion's p99
    /// 1.9× its mean latency; at 25 ms 1.7× (seven runs each on the bench box, throughput the same).
    static let delay: DispatchTimeInterval = .milliseconds(25)
    /// A log of at least this many frames (64 MB) starts over once a checkpoint has nearly caught up
    /// and the writer has a moment (see ``takeRestartDue()``).
    static let restartFrames = 16_384
    /// At most this many frames left to copy when the writer is asked to finish the checkpoint.
    static let restartRemainder = 256
    /// The database file is synced ahead of a restart at most this often: the writer drops the restart when
    /// its groups are big (an alert storm), and every checkpoint would sync again (up to 40 a second).
    static let minFlushInterval: Duration = .milliseconds(100)

    private struct State: Sendable {
        var scheduled = false
        var closed = false
        var restartDue = false
        /// Database file syncs before a restart, for tests.
        var flushes = 0
        /// Checkpoints that failed, in all and since the last one logged.
        var failures = 0
        var failuresUnreported = 0
        var lastFailureLogged: ContinuousClock.Instant?
        var lastFlush: ContinuousClock.Instant?
        var connection: DatabaseQueue?
    }

    private let path: String
    private let configuration: Configuration
    private let restartFrames: Int
    private let logger: Logger
    /// At most one line per this for failing checkpoints (one every 25 ms of writes otherwise).
    static let failureLogInterval: Duration = .seconds(60)
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "helpdesk.store.checkpoint", qos: .utility)

    init(path: String, configuration: Configuration, restartFrames: Int = WALCheckpointer.restartFrames,
         logger: Logger = Logger(label: "helpdesk.store.checkpoint")) {
        self.path = path
        self.configuration = configuration
        self.restartFrames = restartFrames
        self.logger = logger
    }

    /// Called after each group commit: schedules a checkpoint unless one is already due.
    func committed() {
        let schedule = state.withLock { state -> Bool in
            guard !state.scheduled, !state.closed else { return false }
            state.scheduled = true
            return true
        }
        if schedule { queue.asyncAfter(deadline: .now() + Self.delay) { self.checkpoint() } }
    }

    /// Whether the writer should finish the checkpoint before its next transaction; asking clears it.
    ///
    /// The log starts over only at a transaction that begins with every frame copied, a race this thread
    /// loses under steady writes: the log grew to the backstop, where the writer checkpoints and fsyncs
    /// hundreds of MB inside a commit (a paced ack run that crossed it: slowest request 27 ms, not 9).
    /// Finishing costs the writer the frames still uncopied and two fsyncs; it asks only when its
    /// groups are small or it waited for them (it has time), as in an alert storm the log grows by a
    /// few MB between asks.
    func takeRestartDue() -> Bool {
        state.withLock { state in
            defer { state.restartDue = false }
            return state.restartDue
        }
    }

    /// Database file syncs made before handing a restart to the writer, for tests.
    var flushes: Int { state.withLock { $0.flushes } }

    /// Checkpoints that failed so far, for tests.
    var failures: Int { state.withLock { $0.failures } }

    /// Waits for a checkpoint in progress and closes the connection.
    func close() {
        let connection = state.withLock { state -> DatabaseQueue? in
            state.closed = true
            defer { state.connection = nil }
            return state.connection
        }
        queue.sync {}
        try? connection?.close()
    }

    /// Syncs `db`'s database file through SQLite's own handle for it (a descriptor of our own would, once
    /// closed, drop the POSIX locks SQLite holds on the file); false when SQLite offers no handle.
    static func flushDatabaseFile(_ db: Database) throws -> Bool {
        var file: UnsafeMutablePointer<sqlite3_file>?
        guard sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK,
              let file, let sync = file.pointee.pMethods?.pointee.xSync else { return false }
        let code = sync(file, SQLITE_SYNC_NORMAL | SQLITE_SYNC_DATAONLY)
        if code != SQLITE_OK { throw DatabaseError(resultCode: ResultCode(rawValue: code)) }
        return true
    }

    private func checkpoint() {
        // Commits from here on schedule the next one.
        guard let connection = state.withLock({ state -> DatabaseQueue?? in
            state.scheduled = false
            return state.closed ? nil : .some(state.connection)
        }) else { return }
        do {
            let database: DatabaseQueue
            if let connection {
                database = connection
            } else {
                database = try DatabaseQueue(path: path, configuration: configuration)
                // close() may have run while it opened: then it is closed here, not kept.
                let kept = state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.connection = database
                    return true
                }
                guard kept else {
                    try? database.close()
                    return
                }
            }
            try database.writeWithoutTransaction { db in
                // The log starts over only once it is copied whole: under steady writes one pass ends
                // behind the writer, the log grows to the backstop, and every commit checkpoints again.
                for _ in 0..<Self.maxPasses {
                    let (logFrames, copiedFrames) = try db.checkpoint(.passive)
                    // The writer copies what was left plus what it committed since: a few frames when its groups
                    // are small, up to one large notification's pages (a few ms) when one arrives in between.
                    if logFrames >= restartFrames, logFrames - copiedFrames <= Self.restartRemainder {
                        // The writer syncs the database file before the log starts over: everything copied since the
                        // last restart was written back then, with every caller waiting (an alert storm on the bench
                        // box: syncs of 22 ms median, up to 34). Synced here first, then what came in meanwhile copied.
                        let flushNow = state.withLock { state in state.lastFlush.map { .now - $0 >= Self.minFlushInterval } ?? true }
                        let flushed = try flushNow && Self.flushDatabaseFile(db)
                        // Busy (the writer's backstop checkpoint) is no reason to drop the restart.
                        _ = try? db.checkpoint(.passive)
                        state.withLock { state in
                            if flushed {
                                state.flushes += 1
                                state.lastFlush = .now
                            }
                            state.restartDue = true
                        }
                        break
                    }
                    if copiedFrames >= logFrames { break }
                }
            }
        } catch {
            // Not fatal: the writer's backstop checkpoint still bounds the log. Said, though: a store whose
            // file cannot be written back (permissions, an I/O error) keeps growing its log until then.
            let unreported = state.withLock { state -> Int? in
                state.failures += 1
                state.failuresUnreported += 1
                if let last = state.lastFailureLogged, .now - last < Self.failureLogInterval { return nil }
                state.lastFailureLogged = .now
                defer { state.failuresUnreported = 0 }
                return state.failuresUnreported
            }
            if let unreported {
                logger.warning("the store's write-ahead log could not be checkpointed: \(SQLiteStore.describe(error)); it grows until a checkpoint succeeds",
                               metadata: ["path": "\(path)", "failures_since_last_report": "\(unreported)"])
            }
        }
    }
}
