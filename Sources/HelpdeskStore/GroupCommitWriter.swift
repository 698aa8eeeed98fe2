import Dispatch
import Foundation
import HelpdeskCore
import GRDB
import GRDBSQLite
import Synchronization

/// The store's single writer: callers queue write closures, and one writer thread commits whatever
/// has queued up in one transaction. Under load many webhooks share a commit (group commit) instead
/// of each taking the write lock in turn; each closure runs in its own savepoint, so one that
/// throws rolls back alone and only its caller sees the error.
///
/// Each commit has a fixed cost (its log frames and SQLite's locks): bench/StoreWrites here spent
/// ~110-120 µs of CPU per one-row write committed alone, ~19 µs per write in groups of 32. In a steady
/// flow of writes the writer therefore waits a moment, or until as many writes wait as its last group
/// carried, before it takes the next group (``gathers(window:lastGroup:sinceLastCommit:pending:)``).
final class GroupCommitWriter: Sendable {
    /// Bounds how long the first writer in a group waits for the last one's work.
    static let maxGroupSize = 1024
    /// Groups up to this size, or under ``gatherBelow`` when it waited for them, leave the writer time to
    /// start the write-ahead log over.
    static let restartGroupSize = 8
    /// With this many waiting the writer takes the group at once (by count: a few heavy writes may
    /// still be waited for).
    static let gatherBelow = 32

    private struct State {
        var pending: [WriteRequest] = []
        var draining = false
        var closed = false
        var commits = 0
        var writes = 0
        /// Writes committed without a savepoint of their own, for tests.
        var savepointFree = 0
        var lastGroup = 0
        /// Gather windows started, for tests.
        var windows = 0
        /// The drain that ends the current gather window, which close() runs at once instead.
        var windowEnd: DispatchWorkItem?
        var lastCommitEnd = ContinuousClock.Instant.now
        /// The last write refused because the store was unavailable (a full disk), for `/readyz`.
        var lastUnavailable: (at: ContinuousClock.Instant, reason: String)?
    }

    private let database: DatabasePool
    private let checkpointer: WALCheckpointer?
    private let state = Mutex(State())
    private let thread = DispatchQueue(label: "helpdesk.store.writer", qos: .userInitiated)
    /// How long the writer waits for more writes in a steady flow; zero never waits.
    private let gatherWindow: Duration

    init(database: DatabasePool, checkpointer: WALCheckpointer? = nil, gatherWindow: Duration = .zero) {
        self.database = database
        self.checkpointer = checkpointer
        self.gatherWindow = gatherWindow
    }

    /// Whether to wait a gather `window` before taking the next group: only in a steady flow (the last
    /// group carried two or more writes and ended within four windows), so a write after a pause or
    /// after a group of one is not delayed; only while fewer wait than the last group carried and than
    /// ``gatherBelow`` (more gather by themselves); and only when one does (with none, the next write
    /// starts the drain and the window). The window ends early once that many wait. The
    /// bench's signed acks at saturation committed ~5 writes a group without it and ~15 with a 300 µs
    /// window (then a sleeping thread; now a timer).
    static func gathers(window: Duration, lastGroup: Int, sinceLastCommit: Duration, pending: Int) -> Bool {
        window > .zero && lastGroup >= 2 && sinceLastCommit < window * 4 && (1..<min(lastGroup, gatherBelow)).contains(pending)
    }

    /// Runs `body` inside the next group commit and returns its result once that commit is durable.
    ///
    /// `savepoint: false` is for a body that changes the database with at most one statement which
    /// writes at most one row (an INSERT … VALUES of one row): SQLite makes such a statement atomic on
    /// its own (it checks constraints before it writes, and an I/O error, a full disk or no memory
    /// midway rolls the whole transaction back, which the writer sees), so the write needs no savepoint
    /// of its own. A savepoint costs two statements and a copy of every page the write touches.
    func write<T: Sendable>(savepoint: Bool = true, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let value = WriteValue<T>()
            let request = WriteRequest(savepoint: savepoint, body: { db in value.stored = try body(db) }, complete: { commitError, failure in
                if let commitError {
                    continuation.resume(throwing: commitError)
                } else if let failure {
                    continuation.resume(throwing: StoreError.mapping(failure))
                } else if let stored = value.stored {
                    continuation.resume(returning: stored)
                } else {
                    continuation.resume(throwing: StoreError.closed)
                }
            })
            let accepted = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.pending.append(request)
                if !state.draining {
                    state.draining = true
                    // Queued under the lock: a close() that follows finds the drain already on the
                    // queue, and waits for it (after the lock it could slip in between and return first).
                    thread.async { self.drain() }
                } else if let windowEnd = state.windowEnd, state.pending.count >= min(state.lastGroup, Self.gatherBelow) {
                    // As many wait as the last group carried (its callers are back): the window ends now.
                    state.windowEnd = nil
                    windowEnd.cancel()
                    thread.async { self.drain(gathered: true) }
                }
                return true
            }
            if !accepted { continuation.resume(throwing: StoreError.closed) }
        }
    }

    /// Refuses new writes; writes already queued still commit.
    func close() {
        let windowEnd = state.withLock { state -> DispatchWorkItem? in
            state.closed = true
            defer { state.windowEnd = nil }
            return state.windowEnd
        }
        if let windowEnd {
            // Nothing can join the group now: it commits at once, not when its window ends.
            windowEnd.cancel()
            thread.async { self.drain(gathered: true) }
        }
        thread.sync {}  // the drain in progress, or the one just queued, finishes before this returns
    }

    /// Why the last write refused for an unavailable store was refused, if that was within `window`.
    func recentlyUnavailable(within window: Duration) -> String? {
        state.withLock { state in
            guard let last = state.lastUnavailable, ContinuousClock.now - last.at < window else { return nil }
            return last.reason
        }
    }

    /// Writes waiting for the next group, for tests.
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Writes committed without a savepoint of their own so far, for tests.
    var savepointFreeWrites: Int { state.withLock { $0.savepointFree } }

    /// Gather windows started so far, for tests.
    var windowsStarted: Int { state.withLock { $0.windows } }

    /// Commits so far and writes they carried, for tests and benchmarks.
    var counters: (commits: Int, writes: Int) {
        state.withLock { ($0.commits, $0.writes) }
    }

    private func drain(gathered: Bool = false) {
        var gathered = gathered
        while true {
            if !gathered, gatherWindow > .zero, let windowEnd = state.withLock({ state -> DispatchWorkItem? in
                // Once closed nothing can join the group: waiting would only hold up close().
                guard !state.closed, Self.gathers(window: gatherWindow, lastGroup: state.lastGroup,
                                                  sinceLastCommit: .now - state.lastCommitEnd, pending: state.pending.count)
                else { return nil }
                state.windows += 1
                state.windowEnd = DispatchWorkItem { self.drain(gathered: true) }
                return state.windowEnd
            }) {
                // Waits with the thread given back (a sleeping worker is one the process's other dispatch
                // work cannot have); `draining` stays set, so what arrives meanwhile joins this group.
                thread.asyncAfter(deadline: .now() + .nanoseconds(Int(gatherWindow.nanoseconds)), execute: windowEnd)
                return
            }
            if gathered { state.withLock { $0.windowEnd = nil } }
            let waited = gathered
            gathered = false
            let group = state.withLock { state -> [WriteRequest] in
                guard !state.pending.isEmpty else {
                    state.draining = false
                    return []
                }
                let count = min(state.pending.count, Self.maxGroupSize)
                let group = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return group
            }
            if group.isEmpty { return }
            var commitError: (any Error)?
            var performed = group.count
            var culprit: Int?
            do {
                try database.writeWithoutTransaction { db in
                    if let checkpointer, checkpointer.takeRestartDue(),
                       group.count <= Self.restartGroupSize || (waited && group.count < Self.gatherBelow) {
                        // Copies what the checkpointer left so this transaction starts the log over. Busy
                        // while the checkpointer is in a pass: it asks again after its next one. A request
                        // met by a big group is dropped, not kept: later, more would be left to copy. A
                        // group it waited for had time, unless a burst of `gatherBelow` or more came meanwhile.
                        _ = try? db.checkpoint(.passive)
                    }
                    try db.inTransaction(.immediate) {
                        for (index, request) in group.enumerated() {
                            request.perform(db)
                            // A full disk or an I/O error makes SQLite roll the whole transaction back:
                            // the group's earlier writes are gone too, and GRDB would fail every later
                            // one with "transaction was aborted", though they may well succeed. A write whose
                            // rows could not be rolled back ends the group the same way.
                            if !db.isInsideTransaction || request.spoilsGroup {
                                performed = index + 1
                                culprit = index
                                throw request.failure ?? StoreError.unavailable(reason: "the transaction was rolled back")
                            }
                        }
                        return .commit
                    }
                }
            } catch {
                commitError = StoreError.mapping(error)
            }
            let unperformed = group[performed...]
            // Nothing to look at when every write succeeded: the usual commit allocates nothing here.
            var unavailable = (commitError as? StoreError).flatMap { $0.isUnavailable ? $0 : nil }
            for request in group[..<performed] where unavailable == nil {
                if let failure = request.failure.map(StoreError.mapping) as? StoreError, failure.isUnavailable { unavailable = failure }
            }
            state.withLock { state in
                state.commits += 1
                state.writes += performed
                if commitError == nil { state.savepointFree += group[..<performed].reduce(0) { $0 + ($1.savepoint ? 0 : 1) } }
                // Writes put back after a failure do not wait for company.
                state.lastGroup = unperformed.isEmpty ? performed : 0
                state.lastCommitEnd = .now
                // Not run yet: they go first into the next group, which may well succeed.
                state.pending.insert(contentsOf: unperformed, at: 0)
                if let unavailable { state.lastUnavailable = (.now, "\(unavailable)") }
            }
            for (index, request) in group[..<performed].enumerated() {
                if let culprit, index < culprit, let commitError {
                    // Rolled back with the write that failed: told so, not handed that write's error.
                    request.finish(commitError: StoreError.unavailable(reason: "rolled back with another write of its group: \(commitError)"))
                } else {
                    request.finish(commitError: commitError)
                }
            }
            checkpointer?.committed()
        }
    }
}

/// One queued write. Not generic: the writer reaches its writes through one concrete type, while a
/// generic class's methods looked their `Result<T, …>` metadata up on every call (3 % of an
/// acknowledged command's CPU, on the writer thread). The caller's `write<T>` builds the closures.
private final class WriteRequest: @unchecked Sendable {
    // `failure` is only touched on the writer thread, between perform and finish.
    private let body: (Database) throws -> Void
    private let complete: (_ commitError: (any Error)?, _ failure: (any Error)?) -> Void
    /// Whether the write runs in a savepoint of its own (see ``GroupCommitWriter/write(savepoint:_:)``).
    let savepoint: Bool
    /// What `perform` threw, if it threw.
    private(set) var failure: (any Error)?
    /// Set when this write failed and its savepoint could not be rolled back: committing the group
    /// would keep its rows.
    private(set) var spoilsGroup = false

    init(savepoint: Bool, body: @escaping (Database) throws -> Void, complete: @escaping ((any Error)?, (any Error)?) -> Void) {
        self.savepoint = savepoint
        self.body = body
        self.complete = complete
    }

    /// Runs on the writer thread inside the group's transaction.
    func perform(_ db: Database) {
        guard savepoint else {
            // One statement of one row: it changed nothing if it failed, or SQLite rolled the whole
            // transaction back (the writer ends the group then). SQLite counts only the changes a
            // failed statement kept (a trigger's RAISE(FAIL), a second statement added to the body
            // later): with any, the group must not commit them.
            let changesBefore = sqlite3_total_changes64(db.sqliteConnection)
            do {
                try body(db)
            } catch {
                failure = error
                if sqlite3_total_changes64(db.sqliteConnection) != changesBefore { spoilsGroup = true }
            }
            return
        }
        // A savepoint per write, so one that fails leaves the group's others standing. Prepared once per
        // connection: GRDB's inSavepoint parses its SAVEPOINT and RELEASE text on every call, which was
        // a quarter of the writer's CPU for a write of one audit event.
        do {
            try db.cachedStatement(sql: "SAVEPOINT helpdesk_write").execute()
        } catch {
            failure = error
            return
        }
        do {
            try body(db)
            try db.cachedStatement(sql: "RELEASE SAVEPOINT helpdesk_write").execute()
        } catch {
            failure = error
            do {
                try db.cachedStatement(sql: "ROLLBACK TRANSACTION TO SAVEPOINT helpdesk_write").execute()
                try db.cachedStatement(sql: "RELEASE SAVEPOINT helpdesk_write").execute()
            } catch {
                // Its rows could not be undone (or SQLite already rolled everything back, a full disk):
                // the group must not commit them, so the writer stops it there.
                spoilsGroup = true
            }
        }
    }

    /// Called once the group committed (or failed to).
    func finish(commitError: (any Error)?) {
        complete(commitError, failure)
    }
}

/// The value a write's body returned, kept for its caller until the commit.
private final class WriteValue<T>: @unchecked Sendable {
    var stored: T?
}
