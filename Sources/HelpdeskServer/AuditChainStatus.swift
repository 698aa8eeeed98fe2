import HelpdeskStore

/// The audit chain's verification, shared by the audit view and ``MetricsSampler``: one walk at a
/// time however many ask, none again while the log's head has not moved, and at most one every
/// `interval` however fast it grows (each sign-in adds an event; a walk reads every row).
actor AuditChainStatus {
    static let interval = Duration.seconds(30)
    private var last: (head: AuditHead?, result: AuditVerification, at: ContinuousClock.Instant)?
    private var running: Task<AuditVerification, any Error>?

    /// The chain's verification, walked again only when needed.
    /// - Parameter maxAge: when set, a result older than this is walked again even if the head has
    ///   not moved: a row edited in place moves no head (the sampler's periodic check).
    func verify(_ store: any Store, maxAge: Duration? = nil) async throws -> AuditVerification {
        let head = try await store.audit.head()
        if let last {
            let age = ContinuousClock.now - last.at
            let fresh = maxAge.map { age < $0 } ?? true
            if fresh, last.head == head || age < Self.interval { return last.result }
        }
        if let running { return try await running.value }
        // Awaited right here (and by whoever asks meanwhile): the walk is never left running alone.
        let walk = Task { try await store.audit.verify() }
        running = walk
        defer { running = nil }
        let result = try await walk.value
        last = (head, result, ContinuousClock.now)
        return result
    }
}
