import Foundation
import HelpdeskAgents
import HelpdeskKubernetesAgent
import HelpdeskTestSupport
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

/// Whether a process whose command line holds `marker` still runs (read from /proc).
func aProcessRuns(withArgument marker: String) -> Bool {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.contains { entry in
        guard Int(entry) != nil, let line = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return false }
        return String(decoding: line, as: UTF8.self).contains(marker)
    }
}

/// A command that prints without end is stopped once its output passes the limit, not left to fill the
/// disk until its 60 s timeout (that error would say "did not finish within"); the same for standard
/// error. The commands print 2 MB and then wait: bounded, whatever the machine's speed.
@Suite(.timeLimit(.minutes(2))) struct EndlessOutputTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/sh") && FileManager.default.isExecutableFile(atPath: "/usr/bin/head")))
    func aCommandPrintingPastTheLimitIsStoppedWhileItRuns() async throws {
        let runner = ProcessRunner(maxOutputBytes: 1 << 20)
        let marker = "printing-\(UUID().uuidString)"
        let printing = await #expect(throws: ToolError.self) {
            _ = try await runner.run("/bin/sh", ["-c", "head -c 2000000 /dev/zero; sleep 60; :", marker], environment: [:], timeout: .seconds(60))
        }
        let printed = printing.map { "\($0)" } ?? ""
        #expect(printed.hasPrefix("sh printed ") && printed.hasSuffix(" bytes, more than the 1048576 a tool reads, and was stopped: narrow the query (a namespace, a name)"), "\(printed)")
        let complaining = await #expect(throws: ToolError.self) {
            _ = try await runner.run("/bin/sh", ["-c", "head -c 2000000 /dev/zero >&2; sleep 60; :", marker], environment: [:], timeout: .seconds(60))
        }
        let complained = complaining.map { "\($0)" } ?? ""
        #expect(complained.hasPrefix("sh printed ") && complained.hasSuffix(" bytes of errors, more than the 1048576 kept, and was stopped"), "\(complained)")
        #expect(!aProcessRuns(withArgument: marker))
    }

    /// A command that ignores SIGTERM is killed after the grace period, its children with it: the call still ends.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/sh")))
    func aCommandIgnoringTerminationIsKilledWithItsChildren() async throws {
        let runner = ProcessRunner(maxOutputBytes: 1_000)
        let marker = "ignoring-\(UUID().uuidString)"
        let error = await #expect(throws: ToolError.self) {
            _ = try await runner.run("/bin/sh", ["-c", "trap '' TERM; sh -c 'sleep 120; :' \"$0-child\" & wait", marker], environment: [:], timeout: .seconds(1))
        }
        #expect(error.map { "\($0)" } == "sh did not finish within 1s")
        #expect(!aProcessRuns(withArgument: marker))
    }

    /// Governance cancels a tool call at its own timeout, before the command's: the command is stopped
    /// then too, not left running while the call waits for it.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/sh")))
    func aCancelledCallStopsItsCommand() async throws {
        let runner = ProcessRunner(maxOutputBytes: 1_000)
        let marker = "cancelled-\(UUID().uuidString)"
        let call = Task {
            try await runner.run("/bin/sh", ["-c", "trap '' TERM; while :; do sleep 1; done", marker], environment: [:], timeout: .seconds(600))
        }
        #expect(await eventually { aProcessRuns(withArgument: marker) })
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(!aProcessRuns(withArgument: marker))
    }
}

/// A command starts with SIGTERM and SIGINT unblocked, whichever thread started it: Swift's and dispatch's
/// workers block them, and a child inherits its spawner's mask (a command then ignored being stopped).
@Suite struct CommandSignalMaskTests {
    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: "/proc/self/status") && FileManager.default.isExecutableFile(atPath: "/bin/grep")))
    func aCommandStartsWithTheStopSignalsUnblocked() async throws {
        let output = try await ProcessRunner().run("/bin/grep", ["^SigBlk:", "/proc/self/status"], environment: [:], timeout: .seconds(10))
        let line = String(decoding: output.stdout, as: UTF8.self)
        let blocked = try #require(UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespacesAndNewlines), radix: 16))
        #expect(blocked & (1 << (SIGTERM - 1)) == 0 && blocked & (1 << (SIGINT - 1)) == 0, "\(line)")
    }
}
