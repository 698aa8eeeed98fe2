/// Store failures, each worded for the operator who has to fix it.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case newerSchema(path: String, unknownMigrations: [String])
    /// Pending migrations while opening may not apply them: every command but `helpdesk migrate`, and
    /// `helpdesk serve` with `store.migrate_on_start: false`.
    case olderSchema(path: String, version: Int, latest: Int, pending: [String])
    /// `helpdesk migrate` while another process has the store open (a running server, another command).
    case inUse(path: String)
    /// `helpdesk migrate` on a volume with less free space than a table rebuild may take.
    case notEnoughSpace(path: String, needed: Int64, available: Int64)
    /// A migration failed; those before it stay applied, and `helpdesk migrate` resumes from there.
    case migrationFailed(path: String, reason: String)
    case jobNotFound(JobID)
    case jobNotRetryable(JobID, state: JobState)
    case closed
    /// The store's database does not answer (PostgreSQL down, restarting, or out of connections);
    /// nothing was recorded, and the operation may be tried again.
    case unavailable(reason: String)
    /// The database refused a statement (a bug or a schema out of step); nothing was recorded.
    case queryFailed(reason: String)
    /// A progress mark was not where its writer last left it: another process follows the same log.
    /// Nothing of the change set was recorded.
    case markMoved(name: String, expected: Int64, found: Int64)

    /// The database did not answer: the request may succeed later, and nothing was recorded.
    public var isUnavailable: Bool {
        if case .unavailable = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open the store at \(path): \(reason)"
        case .newerSchema(let path, let unknown):
            "the store at \(path) was written by a newer helpdesk (unknown migrations: \(unknown.joined(separator: ", "))); run that version or point store.path (or store.url) elsewhere"
        case .olderSchema(let path, let version, let latest, let pending):
            "the store at \(path) has schema version \(version) and this helpdesk needs \(latest) " +
                "(pending migrations: \(pending.joined(separator: ", "))): back it up (helpdesk backup FILE; pg_dump for PostgreSQL), " +
                "run `helpdesk migrate`, then try again (only `helpdesk migrate` changes the schema, and " +
                "`helpdesk serve` at start unless store.migrate_on_start is false)"
        case .inUse(let path):
            "the store at \(path) is open in another process (is `helpdesk serve` running?): stop the server " +
                "and any other helpdesk command using it, then run `helpdesk migrate` again"
        case .notEnoughSpace(let path, let needed, let available):
            "the folder of the store at \(path) has \(Self.megabytes(available)) free and migrating may need up to " +
                "\(Self.megabytes(needed)) (3 × the store and its log: SQLite rebuilds tables by copying them): " +
                "free some space, or pass --force to try anyway"
        case .migrationFailed(let path, let reason):
            "migrating the store at \(path) failed: \(reason) (on SQLite the migrations before it stay applied and " +
                "`helpdesk migrate` resumes from there; on PostgreSQL none is applied: they run in one transaction)"
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
        case .unavailable(let reason):
            "the store is unavailable: \(reason)"
        case .markMoved(let name, let expected, let found):
            "the progress mark \(name) is at \(found), not \(expected): another process follows the same log (stop the other `helpdesk secbot`, or leave it to the server's)"
        case .queryFailed(let reason):
            "the store refused the operation: \(reason)"
        }
    }

    /// `512 MB`, rounded up so a small store never reads as needing nothing.
    static func megabytes(_ bytes: Int64) -> String {
        "\((max(bytes, 0) + 1_048_575) / 1_048_576) MB"
    }
}
