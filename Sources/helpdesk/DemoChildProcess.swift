import Foundation
import HelpdeskCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the demo could not go on, in words for whoever ran it.
struct DemoError: Error, CustomStringConvertible {
    var message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}

/// A program the demo runs (PostgreSQL's, runuser, a browser), with an argument list and never a
/// shell, in a folder of its choosing. Foundation starts each child in a process group of its own, so
/// a Ctrl-C at the terminal reaches the demo alone and the demo stops its children in order.
final class DemoChildProcess: @unchecked Sendable {
    // Process is not Sendable; once started it is only asked isRunning, processIdentifier and
    // terminate(), which it answers from any thread.
    private let process: Process
    private let exit = ProcessExit()
    let name: String

    /// Starts `arguments[0]` with the rest as its arguments; standard output and error go to `output`
    /// (created 0600), or nowhere.
    init(_ arguments: [String], directory: String, environment: [String: String], output: String?) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        if let output {
            _ = FileManager.default.createFile(atPath: output, contents: nil, attributes: [.posixPermissions: 0o600])
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        let exit = self.exit
        process.terminationHandler = { exit.finish($0.terminationStatus) }
        self.process = process
        name = Self.programName(arguments)
        do {
            try process.run()
        } catch {
            throw DemoError("cannot run \(arguments[0]): \(error.localizedDescription)")
        }
    }

    var isRunning: Bool { process.isRunning }

    /// The program that does the work, for messages: the one after runuser's or setpriv's `--`.
    static func programName(_ arguments: [String]) -> String {
        var program = arguments.first ?? "program"
        if let separator = arguments.firstIndex(of: "--"), separator + 1 < arguments.count { program = arguments[separator + 1] }
        return (program as NSString).lastPathComponent
    }

    /// The exit status, once it has exited.
    func wait() async -> Int32 {
        await exit.wait()
    }

    /// The exit status, or `nil` when it is still running after `limit` or the task is cancelled.
    /// Polled, so that nothing is left waiting for an exit that a cancelled caller no longer awaits.
    func wait(upTo limit: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if let status = exit.status { return status }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return exit.status
    }

    /// SIGTERM, then SIGKILL when it is still there 10 s later; returns once it has exited.
    func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        if await wait(upTo: .seconds(10)) == nil, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        _ = await wait()
    }

    /// Runs a program to its end and returns its status and output (both streams, through a file in
    /// `directory`). A cancelled task (Ctrl-C) or `timeout` ends the program first.
    static func run(_ arguments: [String], directory: String, environment: [String: String],
                    timeout: Duration) async throws -> (status: Int32, output: String) {
        let outputFile = (directory as NSString).appendingPathComponent(".\(programName(arguments))-\(randomToken(length: 6)).out")
        defer { try? FileManager.default.removeItem(atPath: outputFile) }
        let child = try DemoChildProcess(arguments, directory: directory, environment: environment, output: outputFile)
        guard let status = await child.wait(upTo: timeout) else {
            await child.stop()
            try Task.checkCancellation()
            throw DemoError("\(child.name) did not finish within \(timeout.compactText)")
        }
        let output = String(decoding: FileManager.default.contents(atPath: outputFile) ?? Data(), as: UTF8.self)
        return (status, output)
    }
}
