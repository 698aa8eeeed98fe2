/// Store failures, each worded for the operator who has to fix it.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case newerSchema(path: String, unknownMigrations: [String])
    /// Pending migrations while opening may not apply them (`store.migrate_on_start: false`).
    case olderSchema(path: String, version: Int, latest: Int, pending: [String])
    case jobNotFound(JobID)
    case jobNotRetryable(JobID, state: JobState)
    case closed

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open the store at \(path): \(reason)"
        case .newerSchema(let path, let unknown):
            "the store at \(path) was written by a newer helpdesk (unknown migrations: \(unknown.joined(separator: ", "))); run that version or point store.path elsewhere"
        case .olderSchema(let path, let version, let latest, let pending):
            "the store at \(path) has schema version \(version) and this helpdesk needs \(latest) " +
                "(pending migrations: \(pending.joined(separator: ", "))), and store.migrate_on_start is false: " +
                "back it up (helpdesk backup FILE), run `helpdesk migrate`, then start again"
        case .jobNotFound(let id):
            "no job \(id)"
        case .jobNotRetryable(let id, let state):
            switch state {
            case .running: "job \(id) is running now; it is retried automatically if it fails"
            case .done: "job \(id) already completed; there is nothing to retry"
            case .queued, .dead: "job \(id) cannot be retried from state \(state.rawValue)"
            }
        case .closed:
            "the store is closed"
        }
    }
}
