import HelpdeskJobs
import HelpdeskStore
import Logging
import Synchronization

/// A job handler whose behaviour per attempt the test scripts, and which records every call.
public final class ScriptedJobHandler: JobHandler {
    public enum Step: Sendable {
        case succeed(String)
        case fail(String)
        case failPermanently(String)
        /// Waits until cancelled (or `seconds` pass), then succeeds.
        case hang(seconds: Double)
    }

    private let script: @Sendable (LeasedJob) -> Step
    private let calls = Mutex<[LeasedJob]>([])

    public init(_ script: @escaping @Sendable (LeasedJob) -> Step) {
        self.script = script
    }

    public var received: [LeasedJob] { calls.withLock { $0 } }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        calls.withLock { $0.append(job) }
        switch script(job) {
        case .succeed(let result):
            return JobOutcome(result: result)
        case .fail(let message):
            throw ScriptedFailure(message: message)
        case .failPermanently(let message):
            throw JobFailure.permanent(message)
        case .hang(let seconds):
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            return JobOutcome(result: "finished hanging")
        }
    }
}

public struct ScriptedFailure: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
