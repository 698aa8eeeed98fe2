import HelpdeskCore
import HelpdeskStore
import Logging

/// Does the work of one job kind.
///
/// Throw ``JobFailure/permanent(_:)`` for a failure no retry can fix (bad payload); any other
/// error is retried with backoff until the job runs out of attempts.
public protocol JobHandler: Sendable {
    func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome
}

/// What a successful job leaves behind: a short result for `jobs list`, and follow-up writes
/// (such as the next jobs of a chain) committed atomically with its completion.
public struct JobOutcome: Sendable {
    public var result: String?
    public var followUp: ChangeSet

    public init(result: String? = nil, followUp: ChangeSet = ChangeSet()) {
        self.result = result
        self.followUp = followUp
    }
}

public enum JobFailure: Error, Sendable, CustomStringConvertible {
    /// Dead-letter at once: retrying cannot help.
    case permanent(String)
    case timedOut(Duration)
    case noHandler(kind: String)

    public var description: String {
        switch self {
        case .permanent(let message): message
        case .timedOut(let limit): "timed out after \(limit.seconds) s"
        case .noHandler(let kind): "no handler for job kind \"\(kind)\" in this build of helpdesk"
        }
    }
}
