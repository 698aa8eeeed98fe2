import Foundation
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
    static let outputCheckInterval: Duration = .milliseconds(50)
    /// How long a command stopped with SIGTERM has before SIGKILL.
    static let terminationGrace: Duration = .seconds(5)

    private enum Ending: Sendable {
        case exited(Int32)
        case timedOut
        case printedTooMuch(toErrors: Bool, bytes: Int)
    }

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
        let exited = ProcessExit()
        process.terminationHandler = { process in exited.finish(process.terminationStatus) }
        do {
            try Self.withSignalsUnblocked { try process.run() }
        } catch {
            throw ToolError("cannot run \(executable): \(error.localizedDescription)")
        }
        let name = (executable as NSString).lastPathComponent
        let limit = maxOutputBytes
        let (outDescriptor, errDescriptor) = (out.fileDescriptor, err.fileDescriptor)
        let ending: Ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask { .exited(await exited.wait()) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .timedOut
            }
            // Output goes to files, so a command printing without end would fill the disk until its timeout.
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.outputCheckInterval)
                    if let bytes = Self.size(of: outDescriptor), bytes > limit { return .printedTooMuch(toErrors: false, bytes: bytes) }
                    if let bytes = Self.size(of: errDescriptor), bytes > Self.maxErrorFileBytes { return .printedTooMuch(toErrors: true, bytes: bytes) }
                }
                return nil
            }
            var first: Ending?
            while first == nil, let next = await group.next() { first = next }
            let ending = first ?? .timedOut
            if case .exited = ending {} else {
                // Stopped here: the group ends only once the command exited (its waiter is a child).
                if process.isRunning { process.terminate() }
                let pid = process.processIdentifier
                group.addTask {
                    try? await Task.sleep(for: Self.terminationGrace)
                    if !Task.isCancelled, exited.status == nil { kill(pid, SIGKILL) }
                    return nil
                }
                while let next = await group.next() {
                    if case .exited = next { break }
                }
            }
            group.cancelAll()
            return ending
        }
        let status: Int32
        switch ending {
        case .exited(let code):
            status = code
        case .timedOut:
            throw ToolError("\(name) did not finish within \(timeout.compactText)")
        case .printedTooMuch(let toErrors, let bytes):
            throw ToolError(toErrors
                ? "\(name) printed \(bytes) bytes of errors, more than the \(Self.maxErrorFileBytes) kept, and was stopped"
                : "\(name) printed \(bytes) bytes, more than the \(limit) a tool reads, and was stopped: narrow the query (a namespace, a name)")
        }
        // Files, read off the cooperative pool.
        return try await withBlockingIO {
            let size = ((try? FileManager.default.attributesOfItem(atPath: outURL.path))?[.size] as? Int) ?? 0
            guard size <= limit else {
                throw ToolError("\(name) printed \(size) bytes, more than the \(limit) a tool reads: narrow the query (a namespace, a name)")
            }
            let stdout = (try? Data(contentsOf: outURL)) ?? Data()
            let errors = try? FileHandle(forReadingFrom: errURL)
            defer { try? errors?.close() }
            let stderr = String(decoding: (try? errors?.read(upToCount: Self.maxErrorBytes)) ?? Data(), as: UTF8.self)
            return CommandOutput(status: status, stdout: stdout, stderr: stderr)
        }
    }

    /// Runs `body` (a spawn) with no signal blocked on this thread: a child inherits its spawner's mask,
    /// and dispatch's and Swift's worker threads block SIGTERM (kubectl ignored the stop at its timeout).
    private static func withSignalsUnblocked<T>(_ body: () throws -> T) rethrows -> T {
        var none = sigset_t()
        var previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    /// The size of the file open at `descriptor` (the child writes through a copy of it).
    private static func size(of descriptor: Int32) -> Int? {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? Int(info.st_size) : nil
    }
}
