import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Group commit for PostgreSQL: change sets queued while a commit is under way share the next
/// transaction, each in its own savepoint so one that fails rolls back alone. A few committers run
/// at once, because each statement is a round trip and one would leave the database idle.
final class PostgresGroupCommit: Sendable {
    static let maxCommitters = 4
    static let maxGroupSize = 128

    private struct Request: Sendable {
        var changes: ChangeSet
        var continuation: CheckedContinuation<ChangeSetOutcome, any Error>
    }

    private struct State {
        var pending: [Request] = []
        var committers = 0
        var idle: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func apply(_ changes: ChangeSet, store: PostgresStore) async throws -> ChangeSetOutcome {
        try await withCheckedThrowingContinuation { continuation in
            let startCommitter = state.withLock { state -> Bool in
                state.pending.append(Request(changes: changes, continuation: continuation))
                guard state.committers < Self.maxCommitters else { return false }
                state.committers += 1
                return true
            }
            // Detached: the committer serves every caller's change set, so it must not carry this
            // caller's task-locals (request id, trace) into the log lines it writes for the others.
            if startCommitter { Task.detached { await self.commitWhilePending(store: store) } }
        }
    }

    /// Returns once every change set queued so far is committed or failed.
    func drain() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.committers == 0 { return true }
                state.idle.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func commitWhilePending(store: PostgresStore) async {
        while true {
            let (batch, idle) = state.withLock { state -> ([Request], [CheckedContinuation<Void, Never>]) in
                let batch = Array(state.pending.prefix(Self.maxGroupSize))
                state.pending.removeFirst(batch.count)
                guard batch.isEmpty else { return (batch, []) }
                state.committers -= 1
                guard state.committers == 0 else { return ([], []) }
                defer { state.idle.removeAll() }
                return ([], state.idle)
            }
            guard !batch.isEmpty else {
                for waiter in idle { waiter.resume() }
                return
            }
            await commit(batch, store: store)
        }
    }

    private func commit(_ batch: [Request], store: PostgresStore) async {
        let changes = batch.map(\.changes)
        // Storm channels are locked in one order before anything else, so two batches touching the
        // same channels (and then the audit chain) cannot deadlock.
        let channels = Set(changes.compactMap { $0.notification?.channel }).sorted()
        do {
            let results = try await store.transaction { connection -> [Result<ChangeSetOutcome, any Error>] in
                for channel in channels { try await connection.lock("helpdesk.storm:" + channel, store.logger) }
                let now = Date()
                guard changes.count > 1 else {
                    return [.success(try await PostgresChangeSets.apply(changes[0], on: connection, now: now, store: store))]
                }
                var results: [Result<ChangeSetOutcome, any Error>] = []
                for change in changes {
                    try await connection.run("SAVEPOINT change_set", store.logger)
                    do {
                        let outcome = try await PostgresChangeSets.apply(change, on: connection, now: now, store: store)
                        try await connection.run("RELEASE SAVEPOINT change_set", store.logger)
                        results.append(.success(outcome))
                    } catch where !PostgresStore.isRetryable(error) && !Self.isConnectionLost(error) {
                        try await connection.run("ROLLBACK TO SAVEPOINT change_set", store.logger)
                        results.append(.failure(PostgresStore.storeError(error)))
                    }
                }
                return results
            }
            for (request, result) in zip(batch, results) { request.continuation.resume(with: result) }
        } catch {
            for request in batch { request.continuation.resume(throwing: error) }
        }
    }

    private static func isConnectionLost(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return false }
        return error.serverInfo == nil
    }
}
