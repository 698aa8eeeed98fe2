import Dispatch
import Foundation
import HelpdeskCore
import Synchronization
import Testing

@Suite struct BlockingIOTests {
    /// Swift's cooperative pool on Linux is dispatch's default root queue, whose threads share a name;
    /// a body run there (inline, or on a concurrent queue, which targets that root queue) would hold
    /// one of its threads, one per core, until dispatch notices and adds one a second or two later.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/thread-self/comm")))
    func bodiesRunOffTheCooperativePool() async throws {
        let poolThreads = await withTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { currentThreadName() } }
            return await Set(group.reduce(into: []) { $0.append($1) })
        }
        for _ in 0..<8 {
            let bodyThread = try await withBlockingIO { currentThreadName() }
            #expect(!poolThreads.contains(bodyThread), "ran on \(bodyThread), a cooperative thread (\(poolThreads))")
        }
    }

    /// However many callers wait (secbot writes a bundle per detection), only a few threads block.
    @Test func atMostAFewBodiesBlockAtOnce() async throws {
        let gate = DispatchSemaphore(value: 0)
        let counts = RunningCounts()
        let callers = blockingIOQueueCount * 2
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    try await withBlockingIO {
                        counts.value.withLock { $0.running += 1; $0.most = max($0.most, $0.running) }
                        gate.wait()
                        counts.value.withLock { $0.running -= 1 }
                    }
                }
            }
            // Waits for two bodies to block together (an event, however late a loaded machine starts them: the
            // queues are shared with the rest of the suite), then gives the others a moment to start too, were
            // each on a thread of its own: a moment too short can only hide an excess, never fail a sound build.
            // Not `try`: cancelled, the gate must still open, or the shared queues stay blocked for the run.
            let deadline = ContinuousClock.now + .seconds(60)
            while counts.value.withLock({ $0.running }) < 2, ContinuousClock.now < deadline, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(10))
            }
            try? await Task.sleep(for: .milliseconds(300))
            for _ in 0..<callers { gate.signal() }
            try await group.waitForAll()
        }
        let most = counts.value.withLock { $0.most }
        // Two or more: the callers take turns over the queues rather than all waiting on one.
        #expect((2...blockingIOQueueCount).contains(most), "\(most) bodies blocked at once")
    }

    @Test func aThrownErrorReachesTheCaller() async {
        struct Refused: Error {}
        await #expect(throws: Refused.self) { try await withBlockingIO { () throws -> Int in throw Refused() } }
    }
}

/// Shared by the bodies of one test (a Mutex alone cannot be captured by escaping closures).
private final class RunningCounts: Sendable {
    let value = Mutex((running: 0, most: 0))
}

/// The kernel's name of the calling thread (dispatch names its threads after their root queue).
private func currentThreadName() -> String {
    (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
}
