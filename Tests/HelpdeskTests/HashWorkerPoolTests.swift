import Foundation
@testable import HelpdeskServer
import HelpdeskTestSupport
import Testing

/// The key-checking threads: a job nobody waits for any more does not run, and shutdown does not wait
/// for the queue.
@Suite struct HashWorkerPoolTests {
    /// Occupies one of the pool's threads until `release` is signalled; returns once that job runs.
    /// Waits without blocking: a semaphore wait here held one of the (on 2 cores, two) cooperative
    /// threads, and two tests holding at once left none to submit the jobs they waited for.
    static func hold(_ pool: HashWorkerPool, until release: DispatchSemaphore) async -> Task<Result<Int, HashPoolRefusal>, Never> {
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        let task = Task { await pool.run { signal.yield(); release.wait(); return 0 } }  // blocks the pool's own thread
        for await _ in started { break }
        return task
    }

    @Test func aQueuedJobWhoseTaskIsCancelledNeverRuns() async {
        let pool = HashWorkerPool(threads: 1, queueLimit: 4, idleTimeout: 5)
        let release = DispatchSemaphore(value: 0)
        let holder = await Self.hold(pool, until: release)
        let queued = Task { await pool.run { 1 } }
        #expect(await eventually { pool.waiting == 1 })
        queued.cancel()
        #expect(await queued.value == .failure(.cancelled), "answered at once, while the only thread is still busy")
        #expect(pool.waiting == 0)
        release.signal()
        #expect(await holder.value == .success(0))
        #expect(await pool.run { 2 } == .success(2))
        #expect(pool.jobsStarted == 2, "the holder and the last job: the cancelled one never ran")
    }

    @Test func aTaskCancelledBeforeItAsksIsRefusedWithoutQueueing() async {
        let pool = HashWorkerPool(threads: 1, queueLimit: 4, idleTimeout: 5)
        let job = Task { () -> Result<Int, HashPoolRefusal> in
            while !Task.isCancelled { await Task.yield() }
            return await pool.run { 1 }
        }
        job.cancel()
        #expect(await job.value == .failure(.cancelled))
        #expect(pool.jobsStarted == 0 && pool.waiting == 0)
    }

    @Test func aRunningJobWhoseTaskIsCancelledFinishesButItsAnswerIsAbandoned() async {
        let pool = HashWorkerPool(threads: 1, queueLimit: 4, idleTimeout: 5)
        let release = DispatchSemaphore(value: 0)
        let holder = await Self.hold(pool, until: release)
        holder.cancel()
        #expect(await holder.value == .failure(.abandoned), "the caller is answered without waiting for the job")
        release.signal()
        #expect(await pool.run { 2 } == .success(2), "the thread goes on to the next job")
    }

    @Test func shutdownAnswersQueuedJobsAtOnceAndRefusesNewOnes() async {
        let pool = HashWorkerPool(threads: 1, queueLimit: 4, idleTimeout: 5)
        let release = DispatchSemaphore(value: 0)
        let holder = await Self.hold(pool, until: release)
        let queued = (1...3).map { value in Task { await pool.run { value } } }
        #expect(await eventually { pool.waiting == 3 })
        pool.shutdown()
        for job in queued { #expect(await job.value == .failure(.shutDown), "answered while the thread is still busy") }
        #expect(await pool.run { 4 } == .failure(.shutDown))
        release.signal()
        #expect(await holder.value == .success(0), "a running job finishes")
        #expect(pool.jobsStarted == 1)
    }

    @Test func aJobThatWaitedLongerThanMaxWaitIsDroppedUnstarted() async throws {
        let pool = HashWorkerPool(threads: 1, queueLimit: 4, maxWait: .milliseconds(50), idleTimeout: 5)
        let release = DispatchSemaphore(value: 0)
        let holder = await Self.hold(pool, until: release)
        let late = Task { await pool.run { 1 } }
        #expect(await eventually { pool.waiting == 1 })
        try await Task.sleep(for: .milliseconds(200))
        release.signal()
        #expect(await holder.value == .success(0))
        #expect(await late.value == .failure(.expired))
        #expect(pool.jobsStarted == 1)
    }
}
