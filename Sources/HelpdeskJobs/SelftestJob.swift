import Foundation
import HelpdeskStore
import Logging

/// `selftest` jobs prove the queue works end to end on a deployment: each sleeps, optionally fails
/// its first attempts, and completes with the worker and attempt that ran it.
/// `helpdesk jobs selftest` enqueues them.
public struct SelftestJob: JobHandler {
    public static let kind = "selftest"

    public struct Payload: Codable, Sendable {
        public var sleepMilliseconds: Int
        /// Attempts that fail before one succeeds, to watch retries and backoff.
        public var failAttempts: Int

        public init(sleepMilliseconds: Int = 0, failAttempts: Int = 0) {
            self.sleepMilliseconds = sleepMilliseconds
            self.failAttempts = failAttempts
        }

        enum CodingKeys: String, CodingKey {
            case sleepMilliseconds = "sleep_ms"
            case failAttempts = "fail_attempts"
        }
    }

    public init() {}

    public static func job(_ payload: Payload, dedupKey: String? = nil) -> NewJob {
        let json = String(decoding: try! JSONEncoder().encode(payload), as: UTF8.self)  // plain integers always encode
        return NewJob(kind: kind, payload: json, dedupKey: dedupKey)
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        let payload: Payload
        do {
            payload = try JSONDecoder().decode(Payload.self, from: Data(job.payload.utf8))
        } catch {
            throw JobFailure.permanent("selftest payload is not {\"sleep_ms\": N, \"fail_attempts\": N}: \(error)")
        }
        if payload.sleepMilliseconds > 0 {
            try await Task.sleep(for: .milliseconds(payload.sleepMilliseconds))
        }
        if job.attempt <= payload.failAttempts {
            throw SelftestFailure(attempt: job.attempt)
        }
        return JobOutcome(result: "ok: attempt \(job.attempt) by \(job.owner)")
    }
}

struct SelftestFailure: Error, CustomStringConvertible {
    var attempt: Int
    var description: String { "selftest failure on attempt \(attempt), as its payload asked" }
}
