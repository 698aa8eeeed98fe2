import Foundation
import HelpdeskStore

/// A job's payload as a typed value owned by the module that handles the job: encoded once when
/// the job is queued, decoded once when it runs; a payload that does not decode is dead-lettered.
public protocol JobPayload: Codable, Sendable {
    /// The payload as stored; a type queued at high rates may write it faster than `JSONEncoder`.
    var jobText: String { get }
}

extension JobPayload {
    public var jobText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public static func decode(_ job: LeasedJob) throws(JobFailure) -> Self {
        do {
            return try JSONDecoder().decode(Self.self, from: Data(job.payload.utf8))
        } catch {
            throw .permanent("\(job.kind) payload does not decode: \(error)")
        }
    }
}
