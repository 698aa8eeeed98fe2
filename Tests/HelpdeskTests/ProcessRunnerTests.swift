import Foundation
import HelpdeskAgents
import HelpdeskKubernetesAgent
import Testing

@Suite struct ProcessRunnerTests {
    /// A command that prints more than the runner reads fails the call instead of being read and parsed whole.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/head")))
    func outputPastTheLimitFailsTheCall() async throws {
        let runner = ProcessRunner(maxOutputBytes: 1_000)
        let within = try await runner.run("/usr/bin/head", ["-c", "1000", "/dev/zero"], environment: [:], timeout: .seconds(10))
        #expect(within.status == 0 && within.stdout.count == 1_000)
        do {
            _ = try await runner.run("/usr/bin/head", ["-c", "1001", "/dev/zero"], environment: [:], timeout: .seconds(10))
            Issue.record("1,001 bytes were read past a 1,000-byte limit")
        } catch let error as ToolError {
            #expect("\(error)".contains("head printed 1001 bytes, more than the 1000"))
        }
    }
}
