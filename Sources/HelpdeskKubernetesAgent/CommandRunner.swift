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
            try process.run()
        } catch {
            throw ToolError("cannot run \(executable): \(error.localizedDescription)")
        }
        let status: Int32? = await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await exited.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil, process.isRunning { process.terminate() }
            group.cancelAll()
            return first
        }
        guard let status else {
            _ = await exited.wait()
            throw ToolError("\((executable as NSString).lastPathComponent) did not finish within \(timeout.compactText)")
        }
        let name = (executable as NSString).lastPathComponent
        let limit = maxOutputBytes
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
}
