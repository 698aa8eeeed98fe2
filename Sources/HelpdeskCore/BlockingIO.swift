import Dispatch

/// Runs `body`, file I/O that may block for milliseconds (an fsync took up to 30 ms under load on the
/// bench box), on a thread outside Swift's cooperative pool, whose few threads (one per core) every
/// request needs; the calling task only suspends. For CPU-heavy work the server has its bounded
/// `HashWorkerPool` instead.
///
/// Each call gets a serial queue of its own: those run on dispatch's overcommit threads, which it adds
/// while others block, whereas a concurrent queue would share the cooperative pool's threads on Linux.
public func withBlockingIO<T: Sendable>(_ label: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue(label: "helpdesk.blocking-io.\(label)").async {
            continuation.resume(with: Result { try body() })
        }
    }
}
