import Foundation

/// Why ``HashWorkerPool/run(_:)`` answered without the job's result.
enum HashPoolRefusal: Error, Sendable, Equatable {
    /// `queueLimit` jobs were waiting: this one was never queued.
    case full
    /// It waited longer than `maxWait` for a thread and was dropped unstarted.
    case expired
    /// The caller's task was cancelled before the job started: it never runs.
    case cancelled
    /// The caller's task was cancelled while the job ran: the job finishes, its result is dropped.
    case abandoned
    /// ``HashWorkerPool/shutdown()`` was called: queued jobs are dropped and new ones refused.
    case shutDown

    /// Whether the job ran (or is still running): only when it was abandoned.
    var jobRan: Bool { self == .abandoned }
}

/// A few dedicated threads for CPU- and memory-heavy work (an Argon2id verification takes about
/// 100 ms and 64 MiB), so it never occupies Swift's cooperative pool, where it would stall every
/// other request of the process.
///
/// At most `threads` jobs run at once and `queueLimit` wait; one more is refused at once. A job nobody
/// waits for any more does not run: a cancelled caller's job leaves the queue, one that waited longer
/// than `maxWait` is dropped when a thread reaches it, and ``shutdown()`` empties the queue, so neither
/// a burst of dropped clients nor a SIGTERM leaves the threads hashing for a minute. Threads start
/// when work arrives and end after `idleTimeout` without any, so a process (or a test) that never
/// checks a key runs none.
///
/// ```swift
/// let pool = HashWorkerPool(threads: 2, queueLimit: 16)
/// switch await pool.run({ hash.verify(key) }) {
/// case .success(let ok): …
/// case .failure(let refusal): …  // .full: too many waiting
/// }
/// ```
final class HashWorkerPool: @unchecked Sendable {
    private struct Job {
        let id: UInt64
        let queuedAt: ContinuousClock.Instant
        /// Runs the work, then answers the caller unless someone answered it already.
        let work: @Sendable () -> Void
    }

    // @unchecked: every stored `var` is only read and written with `condition` locked.
    private let condition = NSCondition()
    private var jobs: [Job] = []
    /// How to refuse each caller not answered yet (queued or running): whoever removes it answers.
    private var refusers: [UInt64: @Sendable (HashPoolRefusal) -> Void] = [:]
    /// Ids handed out whose job is not queued yet; a cancellation in between removes the id here.
    private var arriving: Set<UInt64> = []
    private var runningIDs: Set<UInt64> = []
    private var lastID: UInt64 = 0
    private var isShutDown = false
    private var alive = 0
    private var idle = 0
    private var started = 0
    let threads: Int
    let queueLimit: Int
    let maxWait: Duration
    let idleTimeout: TimeInterval
    let name: String

    init(threads: Int = 2, queueLimit: Int = 16, maxWait: Duration = .seconds(10), idleTimeout: TimeInterval = 60,
         name: String = "helpdesk-keys") {
        self.threads = max(1, threads)
        self.queueLimit = max(0, queueLimit)
        self.maxWait = maxWait
        self.idleTimeout = idleTimeout
        self.name = name
    }

    /// Runs `work` on one of the pool's threads and returns its result, or why it did not (at once
    /// when the queue is full or the pool shut down; on cancellation of the calling task; when the job
    /// waited too long). The calling task only suspends; no thread of the cooperative pool waits.
    func run<Value: Sendable>(_ work: @escaping @Sendable () -> Value) async -> Result<Value, HashPoolRefusal> {
        let id = newID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, HashPoolRefusal>, Never>) in
                let refuse: @Sendable (HashPoolRefusal) -> Void = { continuation.resume(returning: .failure($0)) }
                let job = Job(id: id, queuedAt: .now) { [self] in
                    let value = work()
                    if finished(id) != nil { continuation.resume(returning: .success(value)) }
                }
                if let refusal = self.enqueue(job, refuse: refuse) { refuse(refusal) }
            }
        } onCancel: { [self] in
            cancel(id)
        }
    }

    /// Answers every queued job `shutDown` at once and refuses new ones; running jobs finish.
    func shutdown() {
        condition.lock()
        isShutDown = true
        let dropped = jobs.compactMap { refusers.removeValue(forKey: $0.id) }
        jobs.removeAll()
        condition.broadcast()
        condition.unlock()
        for refuse in dropped { refuse(.shutDown) }
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

    private func newID() -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        lastID += 1
        arriving.insert(lastID)
        return lastID
    }

    /// Queues `job`, or says why not.
    private func enqueue(_ job: Job, refuse: @escaping @Sendable (HashPoolRefusal) -> Void) -> HashPoolRefusal? {
        condition.lock()
        defer { condition.unlock() }
        // Not arriving any more: its task was cancelled before it got here.
        guard arriving.remove(job.id) != nil else { return .cancelled }
        guard !isShutDown else { return .shutDown }
        guard jobs.count < queueLimit else { return .full }
        jobs.append(job)
        refusers[job.id] = refuse
        if jobs.count > idle, alive < threads {
            alive += 1
            let thread = Thread { [self] in serve() }
            thread.name = "\(name)-\(alive)"
            thread.start()
        }
        condition.signal()
        return nil
    }

    /// The caller's task was cancelled: a queued job leaves the queue, a running one is abandoned.
    private func cancel(_ id: UInt64) {
        condition.lock()
        if arriving.remove(id) != nil {
            condition.unlock()  // `enqueue` will answer it
            return
        }
        var refuse: (@Sendable (HashPoolRefusal) -> Void)?
        var refusal = HashPoolRefusal.cancelled
        if let index = jobs.firstIndex(where: { $0.id == id }) {
            jobs.remove(at: index)
            refuse = refusers.removeValue(forKey: id)
        } else if runningIDs.contains(id) {
            refuse = refusers.removeValue(forKey: id)
            refusal = .abandoned
        }
        condition.unlock()
        refuse?(refusal)
    }

    /// A job's work is done: its refuser if the caller still waits for the result, else `nil`.
    private func finished(_ id: UInt64) -> (@Sendable (HashPoolRefusal) -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        runningIDs.remove(id)
        return refusers.removeValue(forKey: id)
    }

    /// A pool thread: takes jobs in order until none has come for `idleTimeout`, dropping those that
    /// waited longer than `maxWait` (they are at the front: the queue is in arrival order).
    private func serve() {
        condition.lock()
        while true {
            let now = ContinuousClock.now
            var expired: [@Sendable (HashPoolRefusal) -> Void] = []
            while let first = jobs.first, first.queuedAt.duration(to: now) > maxWait {
                jobs.removeFirst()
                if let refuse = refusers.removeValue(forKey: first.id) { expired.append(refuse) }
            }
            if !expired.isEmpty {
                condition.unlock()
                for refuse in expired { refuse(.expired) }
                condition.lock()
                continue
            }
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                runningIDs.insert(job.id)
                started += 1
                condition.unlock()
                job.work()
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
