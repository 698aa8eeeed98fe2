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

/// A command that prints without end is stopped once its output passes the limit, not left to fill the
/// disk until its timeout; the same for standard error. Neither waits out its 60 s timeout (that error
/// would say "did not finish within").
@Suite(.timeLimit(.minutes(2))) struct EndlessOutputTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/yes") && FileManager.default.isExecutableFile(atPath: "/bin/sh")))
    func aCommandPrintingWithoutEndIsStoppedAtTheLimit() async throws {
        let runner = ProcessRunner(maxOutputBytes: 1 << 20)
        let printing = await #expect(throws: ToolError.self) {
            _ = try await runner.run("/usr/bin/yes", [], environment: [:], timeout: .seconds(60))
        }
        let printed = "\(printing.map { "\($0)" } ?? "")"
        #expect(printed.hasPrefix("yes printed ") && printed.contains(" bytes, more than the 1048576 a tool reads, and was stopped"), "\(printed)")
        let complaining = await #expect(throws: ToolError.self) {
            _ = try await runner.run("/bin/sh", ["-c", "exec yes >&2"], environment: [:], timeout: .seconds(60))
        }
        let complained = "\(complaining.map { "\($0)" } ?? "")"
        #expect(complained.hasPrefix("sh printed ") && complained.contains(" bytes of errors, more than the 1048576 kept, and was stopped"), "\(complained)")
    }

    /// A command that ignores SIGTERM is killed after the grace period: the call still ends.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/sh")))
    func aCommandIgnoringTerminationIsKilled() async throws {
        let runner = ProcessRunner(maxOutputBytes: 1_000)
        let error = await #expect(throws: ToolError.self) {
            _ = try await runner.run("/bin/sh", ["-c", "trap '' TERM; while :; do sleep 1; done"], environment: [:], timeout: .seconds(1))
        }
        #expect(error.map { "\($0)" } == "sh did not finish within 1s")
    }
}

/// A command starts with no signal blocked, whichever thread started it: Swift's and dispatch's workers
/// block SIGTERM, and a child inherits its spawner's mask (kubectl then ignored being stopped at its timeout).
@Suite struct CommandSignalMaskTests {
    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: "/proc/self/status") && FileManager.default.isExecutableFile(atPath: "/bin/grep")))
    func aCommandStartsWithNoSignalBlocked() async throws {
        let output = try await ProcessRunner().run("/bin/grep", ["^SigBlk:", "/proc/self/status"], environment: [:], timeout: .seconds(10))
        #expect(String(decoding: output.stdout, as: UTF8.self) == "SigBlk:\t0000000000000000\n")
    }
}
