import HelpdeskCore

/// The session a session tool (`terminate_backend`, `cancel_query`) would end or interrupt, as
/// `pg_stat_activity` showed it when the call's impact was measured: what an approver reads to
/// decide. Only the pin (`backend_start`) is checked when the call runs; this is not.
public struct SessionEvidence: Sendable, Equatable, Codable {
    /// Characters of the session's statement approvers see, cut after redaction.
    public static let queryLimit = 300
    /// How many of the blocked sessions are named; the count covers all of them.
    public static let blockedListLimit = 10

    public var pid: Int
    public var user: String?
    public var application: String?
    public var client: String?
    public var state: String?
    public var waitEventType: String?
    public var waitEvent: String?
    /// The current or last statement, at most ``queryLimit`` characters once redacted.
    public var query: String?
    /// How long the session's transaction has been open, written or not; `nil` outside a transaction
    /// or when this user may not see it.
    public var transactionAgeSeconds: Int?
    /// Whether that transaction has written (`backend_xid` set): ending the session rolls the writes back.
    public var transactionHasWritten: Bool?
    /// How long ago the current or last statement started.
    public var queryAgeSeconds: Int?
    /// Sessions waiting on this one, directly or behind another waiter (row-lock queues).
    public var blockedCount: Int
    /// Of those, the ones waiting on this session itself.
    public var blockedDirectly: Int
    /// The lowest ``blockedListLimit`` PIDs of the blocked sessions.
    public var blockedPIDs: [Int]

    enum CodingKeys: String, CodingKey {
        case pid, user, application, client, state, query
        case waitEventType = "wait_event_type", waitEvent = "wait_event"
        case transactionAgeSeconds = "transaction_age_seconds", transactionHasWritten = "transaction_has_written"
        case queryAgeSeconds = "query_age_seconds", blockedCount = "blocked_count", blockedDirectly = "blocked_directly"
        case blockedPIDs = "blocked_pids"
    }

    public init(pid: Int, user: String? = nil, application: String? = nil, client: String? = nil, state: String? = nil,
                waitEventType: String? = nil, waitEvent: String? = nil, query: String? = nil, transactionAgeSeconds: Int? = nil,
                transactionHasWritten: Bool? = nil, queryAgeSeconds: Int? = nil, blockedCount: Int = 0, blockedDirectly: Int = 0,
                blockedPIDs: [Int] = []) {
        self.pid = pid
        self.user = user
        self.application = application
        self.client = client
        self.state = state
        self.waitEventType = waitEventType
        self.waitEvent = waitEvent
        self.query = query
        self.transactionAgeSeconds = transactionAgeSeconds
        self.transactionHasWritten = transactionHasWritten
        self.queryAgeSeconds = queryAgeSeconds
        self.blockedCount = blockedCount
        self.blockedDirectly = blockedDirectly
        self.blockedPIDs = blockedPIDs
    }

    /// Every text field passed through `redactor` — the statement is another user's SQL and may hold a
    /// password — then the statement cut to ``queryLimit``. Cut after redacting, so a secret the cut
    /// would halve is still recognised whole.
    public func redacted(by redactor: Redactor) -> SessionEvidence {
        func clean(_ text: String?) -> String? { text.map { redactor.redact($0) } }
        var copy = self
        copy.user = clean(user)
        copy.application = clean(application)
        copy.client = clean(client)
        copy.state = clean(state)
        copy.waitEventType = clean(waitEventType)
        copy.waitEvent = clean(waitEvent)
        copy.query = clean(query).map { text in
            text.count <= Self.queryLimit ? text : String(text.prefix(Self.queryLimit - 1)) + "…"
        }
        copy.blockedPIDs = Array(blockedPIDs.prefix(Self.blockedListLimit))
        return copy
    }
}
