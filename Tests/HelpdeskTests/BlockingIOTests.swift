import Foundation
import HelpdeskCore
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
            let bodyThread = try await withBlockingIO("test") { currentThreadName() }
            #expect(!poolThreads.contains(bodyThread), "ran on \(bodyThread), a cooperative thread (\(poolThreads))")
        }
    }

    @Test func aThrownErrorReachesTheCaller() async {
        struct Refused: Error {}
        await #expect(throws: Refused.self) { try await withBlockingIO("test") { () throws -> Int in throw Refused() } }
    }
}

/// The kernel's name of the calling thread (dispatch names its threads after their root queue).
private func currentThreadName() -> String {
    (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
}
