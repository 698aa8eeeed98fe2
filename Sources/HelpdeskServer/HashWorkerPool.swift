import Foundation

/// A few dedicated threads for CPU- and memory-heavy work (an Argon2id verification takes about
/// 100 ms and 64 MiB), so it never occupies Swift's cooperative pool, where it would stall every
/// other request of the process.
///
/// At most `threads` jobs run at once and `queueLimit` wait; one more is refused at once (`nil`)
/// rather than queued. Threads start when work arrives and end after `idleTimeout` without any, so
/// a process (or a test) that never checks a key runs none.
///
/// ```swift
/// let pool = HashWorkerPool(threads: 2, queueLimit: 16)
/// let ok = await pool.run { hash.verify(key) }  // nil: too many waiting
/// ```
final class HashWorkerPool: @unchecked Sendable {
    // @unchecked: `jobs`, `alive`, `idle` and `started` are only read and written with `condition` locked.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var alive = 0
    private var idle = 0
    private var started = 0
    let threads: Int
    let queueLimit: Int
    let idleTimeout: TimeInterval
    let name: String

    init(threads: Int = 2, queueLimit: Int = 16, idleTimeout: TimeInterval = 60, name: String = "helpdesk-keys") {
        self.threads = max(1, threads)
        self.queueLimit = max(0, queueLimit)
        self.idleTimeout = idleTimeout
        self.name = name
    }

    /// Runs `work` on one of the pool's threads and returns its result, or `nil` at once when
    /// `queueLimit` jobs are waiting already. The calling task only suspends; no thread of the
    /// cooperative pool waits.
    func run<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result?, Never>) in
            let accepted = enqueue { continuation.resume(returning: work()) }
            if !accepted { continuation.resume(returning: nil) }
        }
    }

    /// Jobs waiting for a thread (for tests).
    var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count
    }

    /// Jobs taken by a thread since the pool was made (for tests: a cached key is not hashed again).
    var jobsStarted: Int {
        condition.lock()
        defer { condition.unlock() }
        return started
    }

    private func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard jobs.count < queueLimit else { return false }
        jobs.append(job)
        if jobs.count > idle, alive < threads {
            alive += 1
            let thread = Thread { [self] in serve() }
            thread.name = "\(name)-\(alive)"
            thread.start()
        }
        condition.signal()
        return true
    }

    /// A pool thread: takes jobs in order until none has come for `idleTimeout`.
    private func serve() {
        condition.lock()
        while true {
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                started += 1
                condition.unlock()
                job()
                condition.lock()
                continue
            }
            idle += 1
            let woken = condition.wait(until: Date(timeIntervalSinceNow: idleTimeout))
            idle -= 1
            if !woken, jobs.isEmpty {
                alive -= 1
                condition.unlock()
                return
            }
        }
    }
}
