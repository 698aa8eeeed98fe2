import Dispatch
import Synchronization

/// Runs `body`, file I/O that may block for milliseconds (an fsync took up to 30 ms under load on the
/// bench box), on a thread outside Swift's cooperative pool, whose few threads (one per core) every
/// request needs; the calling task only suspends. For CPU-heavy work the server has its bounded
/// `HashWorkerPool` instead.
///
/// The work goes to a few serial queues in turn: those run on dispatch's overcommit threads, which it adds
/// while others block (a concurrent queue at the default priority would share the cooperative pool's own
/// threads on Linux), and at most ``blockingIOQueueCount`` of them block at once, however many callers wait.
public func withBlockingIO<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let queue = blockingIOQueues[Int(nextBlockingIOQueue.add(1, ordering: .relaxed).oldValue % UInt(blockingIOQueueCount))]
    return try await withCheckedThrowingContinuation { continuation in
        queue.async { continuation.resume(with: Result { try body() }) }
    }
}

public let blockingIOQueueCount = 4
private let blockingIOQueues = (0..<blockingIOQueueCount).map { DispatchQueue(label: "helpdesk.blocking-io.\($0)") }
private let nextBlockingIOQueue = Atomic<UInt>(0)
