import Dispatch
import GRDB
import Synchronization

/// The store's single writer: callers queue write closures, and one writer thread commits whatever
/// has queued up in one transaction. Under load many webhooks share a commit (group commit) instead
/// of each taking the write lock in turn; each closure runs in its own savepoint, so one that
/// throws rolls back alone and only its caller sees the error.
final class GroupCommitWriter: Sendable {
    /// Bounds how long the first writer in a group waits for the last one's work.
    static let maxGroupSize = 1024

    private struct State {
        var pending: [any PendingWrite] = []
        var draining = false
        var closed = false
        var commits = 0
        var writes = 0
        /// The last write refused because the store was unavailable (a full disk), for `/readyz`.
        var lastUnavailable: (at: ContinuousClock.Instant, reason: String)?
    }

    private let database: DatabasePool
    private let checkpointer: WALCheckpointer?
    private let state = Mutex(State())
    private let thread = DispatchQueue(label: "helpdesk.store.writer", qos: .userInitiated)

    init(database: DatabasePool, checkpointer: WALCheckpointer? = nil) {
        self.database = database
        self.checkpointer = checkpointer
    }

    /// Runs `body` inside the next group commit and returns its result once that commit is durable.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let request = WriteRequest(body: body, continuation: continuation)
            let startDrain = state.withLock { state -> Bool? in
                guard !state.closed else { return nil }
                state.pending.append(request)
                if state.draining { return false }
                state.draining = true
                return true
            }
            switch startDrain {
            case nil: continuation.resume(throwing: StoreError.closed)
            case true?: thread.async { self.drain() }
            case false?: break
            }
        }
    }

    /// Refuses new writes; writes already queued still commit.
    func close() {
        state.withLock { $0.closed = true }
        thread.sync {}  // a drain in progress finishes before this returns
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

    /// Commits so far and writes they carried, for tests and benchmarks.
    var counters: (commits: Int, writes: Int) {
        state.withLock { ($0.commits, $0.writes) }
    }

    private func drain() {
        while true {
            let group = state.withLock { state -> [any PendingWrite] in
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
                    try db.inTransaction(.immediate) {
                        for (index, request) in group.enumerated() {
                            request.perform(db)
                            // A full disk or an I/O error makes SQLite roll the whole transaction back:
                            // the group's earlier writes are gone too, and GRDB would fail every later
                            // one with "transaction was aborted", though they may well succeed.
                            if !db.isInsideTransaction {
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

private protocol PendingWrite: Sendable {
    /// Runs on the writer thread inside the group's transaction.
    func perform(_ db: Database)
    /// Called once the group committed (or failed to).
    func finish(commitError: (any Error)?)
    /// What `perform` threw, if it threw.
    var failure: (any Error)? { get }
}

private final class WriteRequest<T: Sendable>: PendingWrite, @unchecked Sendable {
    // `result` is only touched on the writer thread, between perform and finish.
    private let body: @Sendable (Database) throws -> T
    private let continuation: CheckedContinuation<T, any Error>
    private var result: Result<T, any Error>?

    init(body: @escaping @Sendable (Database) throws -> T, continuation: CheckedContinuation<T, any Error>) {
        self.body = body
        self.continuation = continuation
    }

    func perform(_ db: Database) {
        var value: T?
        do {
            try db.inSavepoint {
                value = try body(db)
                return .commit
            }
            result = .success(value!)
        } catch {
            result = .failure(error)
        }
    }

    var failure: (any Error)? {
        if case .failure(let error)? = result { return error }
        return nil
    }

    func finish(commitError: (any Error)?) {
        if let commitError {
            continuation.resume(throwing: commitError)
        } else {
            continuation.resume(with: (result ?? .failure(StoreError.closed)).mapError(StoreError.mapping))
        }
    }
}
