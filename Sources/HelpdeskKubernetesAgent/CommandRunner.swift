import Foundation
import Synchronization
import HelpdeskAgents
import HelpdeskCore

/// Runs a program with an argument list (never through a shell) and collects its output.
public protocol CommandRunner: Sendable {
    func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration) async throws -> CommandOutput
}

public struct CommandOutput: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: String

    public init(status: Int32, stdout: Data, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs commands as child processes. Output goes to temporary files rather than pipes, so a
/// chatty command can never block on a full pipe while we wait for it to exit.
public struct ProcessRunner: CommandRunner {
    /// The most standard output a command may print: kubectl's JSON for a large namespace runs to a few MB,
    /// and what is read is then parsed whole on the way to a diagnosis.
    public var maxOutputBytes: Int
    /// The most of standard error kept: only its start reaches an error message.
    static let maxErrorBytes = 65_536
    /// The most standard error a command may print before it is stopped (its file is on disk until then).
    static let maxErrorFileBytes = 1 << 20
    /// How often the output files are measured while the command runs: a command printing without end
    /// is stopped within this (kubectl streams a few MB at most in it), not at its timeout.
    static let watchInterval: Duration = .milliseconds(50)
    /// How long a command stopped with SIGTERM has before SIGKILL.
    static let terminationGrace: Duration = .seconds(5)
    /// How long the call waits for a killed command to be reaped: a grandchild that left its process group
    /// and outlives it keeps Foundation from reaping it (it holds Foundation's watch on the child); the call ends anyway.
    static let reapWait: Duration = .seconds(5)
    private static let watchQueue = DispatchQueue(label: "helpdesk.command-watch")

    public init(maxOutputBytes: Int = 32 << 20) {
        self.maxOutputBytes = maxOutputBytes
    }

    public func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration) async throws -> CommandOutput {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("helpdesk-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let outURL = folder.appendingPathComponent("out")
        let errURL = folder.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        let run = CommandRun()
        process.terminationHandler = { process in run.exited(process.terminationStatus) }
        try Task.checkCancellation()  // nothing started for a call already given up
        do {
            try Self.withStopSignalsUnblocked { try process.run() }
        } catch {
            throw ToolError("cannot run \(executable): \(error.localizedDescription)")
        }
        let name = (executable as NSString).lastPathComponent
        let limit = maxOutputBytes
        // Foundation starts each command in a process group of its own: signals go to the group, its children too.
        let group = process.processIdentifier
        // Output goes to files, so a command printing without end would fill the disk until its timeout:
        // measured while it runs, on a timer that also ends it at its timeout.
        let watch = DispatchSource.makeTimerSource(queue: Self.watchQueue)
        let deadline = DispatchTime.now() + .nanoseconds(Int(clamping: timeout.nanoseconds))
        let (outDescriptor, errDescriptor) = (out.fileDescriptor, err.fileDescriptor)
        watch.schedule(deadline: .now() + .nanoseconds(Int(Self.watchInterval.nanoseconds)), repeating: .nanoseconds(Int(Self.watchInterval.nanoseconds)))
        watch.setEventHandler {
            guard !run.hasExited else { return }  // its files are complete: checked once read
            if let bytes = Self.size(of: outDescriptor), bytes > limit {
                run.end(.printedTooMuch(toErrors: false, bytes: bytes))
            } else if let bytes = Self.size(of: errDescriptor), bytes > Self.maxErrorFileBytes {
                run.end(.printedTooMuch(toErrors: true, bytes: bytes))
            } else if DispatchTime.now() >= deadline {
                run.end(.timedOut)
            }
        }
        watch.resume()
        // A cancelled call (governance's own tool timeout, which comes first) stops the command as its timeout does.
        let ending = await withTaskCancellationHandler { await run.ending() } onCancel: { run.end(.cancelled) }
        watch.cancel()
        let status: Int32
        if case .exited(let code) = ending {
            status = code
        } else {
            if !run.hasExited { kill(-group, SIGTERM) }
            if await run.exit(within: Self.terminationGrace) == nil {
                kill(-group, SIGKILL)
                _ = await run.exit(within: Self.reapWait)
            }
            switch ending {
            case .exited, .timedOut:
                throw ToolError("\(name) did not finish within \(timeout.compactText)")
            case .cancelled:
                throw CancellationError()
            case .printedTooMuch(let toErrors, let bytes):
                throw ToolError(toErrors
                    ? "\(name) printed \(bytes) bytes of errors, more than the \(Self.maxErrorFileBytes) kept, and was stopped"
                    : "\(name) printed \(bytes) bytes, more than the \(limit) a tool reads, and was stopped: narrow the query (a namespace, a name)")
            }
        }
        // Files, read off the cooperative pool.
        return try await withBlockingIO {
            // Read through a bound, not by the size seen first: a straggler (a child that left its group) may still write.
            let output = try? FileHandle(forReadingFrom: outURL)
            defer { try? output?.close() }
            let stdout = (try? output?.read(upToCount: limit + 1)) ?? Data()
            guard stdout.count <= limit else {
                let size = Self.size(of: outDescriptor) ?? stdout.count
                throw ToolError("\(name) printed \(size) bytes, more than the \(limit) a tool reads: narrow the query (a namespace, a name)")
            }
            let errors = try? FileHandle(forReadingFrom: errURL)
            defer { try? errors?.close() }
            let stderr = String(decoding: (try? errors?.read(upToCount: Self.maxErrorBytes)) ?? Data(), as: UTF8.self)
            return CommandOutput(status: status, stdout: stdout, stderr: stderr)
        }
    }

    /// Runs `body` (a spawn) with SIGTERM and SIGINT unblocked on this thread: a child inherits its spawner's
    /// mask, and dispatch's and Swift's worker threads block them (a command then ignored being stopped).
    /// Only those two: the dispatch handlers that take them for the server run on any thread, while a
    /// signal left at its default (SIGHUP, SIGUSR1) would end the server if it arrived here meanwhile.
    private static func withStopSignalsUnblocked<T>(_ body: () throws -> T) rethrows -> T {
        var stops = sigset_t()
        var previous = sigset_t()
        sigemptyset(&stops)
        sigaddset(&stops, SIGTERM)
        sigaddset(&stops, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &stops, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    /// The size of the file open at `descriptor` (the child writes through a copy of it).
    private static func size(of descriptor: Int32) -> Int? {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? Int(info.st_size) : nil
    }
}

/// How a command's run ended, first come first served: it exited, or the watch or a cancellation
/// ended it; and its exit, awaited for a while at most once it is being stopped.
private final class CommandRun: Sendable {
    enum Ending: Sendable {
        case exited(Int32)
        case timedOut
        case cancelled
        case printedTooMuch(toErrors: Bool, bytes: Int)
    }

    private struct State {
        var ending: Ending?
        var status: Int32?
        var endingWaiter: CheckedContinuation<Ending, Never>?
        var exitWaiters: [Int: CheckedContinuation<Int32?, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())
    private static let timers = DispatchQueue(label: "helpdesk.command-exit")

    var hasExited: Bool { state.withLock { $0.status != nil } }

    /// From the termination handler.
    func exited(_ status: Int32) {
        let (endingWaiter, exitWaiters) = state.withLock { state in
            state.status = status
            var endingWaiter: CheckedContinuation<Ending, Never>?
            if state.ending == nil {
                state.ending = .exited(status)
                endingWaiter = state.endingWaiter
                state.endingWaiter = nil
            }
            defer { state.exitWaiters = [:] }
            return (endingWaiter, state.exitWaiters)
        }
        endingWaiter?.resume(returning: .exited(status))
        for waiter in exitWaiters.values { waiter.resume(returning: status) }
    }

    /// Ends the run unless it already ended.
    func end(_ ending: Ending) {
        let waiter = state.withLock { state -> CheckedContinuation<Ending, Never>? in
            guard state.ending == nil else { return nil }
            state.ending = ending
            defer { state.endingWaiter = nil }
            return state.endingWaiter
        }
        waiter?.resume(returning: ending)
    }

    /// How the run ended, once it did (one caller).
    func ending() async -> Ending {
        await withCheckedContinuation { continuation in
            let ended = state.withLock { state -> Ending? in
                if let ending = state.ending { return ending }
                state.endingWaiter = continuation
                return nil
            }
            if let ended { continuation.resume(returning: ended) }
        }
    }

    /// The exit status once the command exited, or nil after `limit` (a dispatch timer: the calling task
    /// may be cancelled, and a cancelled task's sleep would end at once).
    func exit(within limit: Duration) async -> Int32? {
        await withCheckedContinuation { continuation in
            let waiter = state.withLock { state -> Int? in
                if state.status != nil { return nil }
                state.nextWaiter += 1
                state.exitWaiters[state.nextWaiter] = continuation
                return state.nextWaiter
            }
            guard let waiter else { return continuation.resume(returning: state.withLock { $0.status }) }
            Self.timers.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: limit.nanoseconds))) {
                self.state.withLock { $0.exitWaiters.removeValue(forKey: waiter) }?.resume(returning: nil)
            }
        }
    }
}
