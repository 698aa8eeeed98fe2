import Foundation
import HelpdeskCore
import HelpdeskPostgres
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The shared store of several replicas: PostgreSQL through a connection pool. Every decision
/// SQLite gets from its single writer is made here by row locks, conditional updates or advisory
/// locks inside transactions, so replicas never post, decide or run anything twice.
public final class PostgresStore: Store {
    public struct Options: Sendable {
        public var endpoint: PostgresEndpoint
        public var defaultMaxAttempts: Int
        /// As ``SQLiteStore/Options/migrateOnOpen``.
        public var migrateOnOpen: Bool
        /// As ``SQLiteStore/Options/initializeEmpty``: a database with no migrations applied gets the schema.
        public var initializeEmpty: Bool
        public var willMigrate: (@Sendable (SchemaStatus) -> Void)?
        /// Connections this process keeps at most.
        public var maxConnections: Int
        /// How long one store operation may wait for PostgreSQL before it fails as unavailable.
        public var operationTimeout: Duration
        public var logger: Logger

        public init(endpoint: PostgresEndpoint, defaultMaxAttempts: Int = 8, migrateOnOpen: Bool = true, initializeEmpty: Bool = false,
                    willMigrate: (@Sendable (SchemaStatus) -> Void)? = nil, maxConnections: Int = 10,
                    operationTimeout: Duration = .seconds(10), logger: Logger = Logger(label: "helpdesk.store")) {
            self.endpoint = endpoint
            self.defaultMaxAttempts = defaultMaxAttempts
            self.migrateOnOpen = migrateOnOpen
            self.initializeEmpty = initializeEmpty
            self.willMigrate = willMigrate
            self.maxConnections = maxConnections
            self.operationTimeout = operationTimeout
            self.logger = logger
        }
    }

    /// `host:port/database`, for messages (never the password).
    public let location: String
    public let migration: MigrationReport
    let client: PostgresClient
    let logger: Logger
    let defaultMaxAttempts: Int
    let operationTimeout: Duration
    let workSignal = WakeSignal()
    let outboxSignal = WakeSignal()
    private let runner: Task<Void, Never>
    /// Whether PostgreSQL answers, as a probe on its own connection last saw it.
    let availability: PostgresAvailability
    private let chain = Mutex<AuditChain?>(nil)
    /// Set when closing starts: no new change sets.
    private let closed = Atomic<Bool>(false)
    /// Set once queued change sets are committed: nothing more reaches the database.
    private let stopped = Atomic<Bool>(false)
    private let committer = PostgresGroupCommit()

    public var jobs: any JobQueue { PostgresJobQueue(store: self) }
    public var incidents: any IncidentIndex { PostgresIncidentIndex(store: self) }
    public var audit: any AuditLog { PostgresAuditLog(store: self) }
    public var approvals: any ApprovalStore { PostgresApprovalStore(store: self) }
    public var slackOutbox: any SlackOutboxStore { PostgresSlackOutbox(store: self) }
    public var webSessions: any WebSessionStore { PostgresWebSessions(store: self) }
    public var alerts: any AlertIndex { PostgresAlertIndex(store: self) }
    public var executions: any ExecutionLog { PostgresExecutionLog(store: self) }
    public var storms: any StormStore { PostgresStorms(store: self) }
    public var retention: any RetentionStore { PostgresRetention(store: self) }
    public var singletons: any SingletonLeases { PostgresSingletonLeases(store: self) }
    public var progress: any ProgressStore { PostgresProgress(store: self) }

    private init(options: Options, client: PostgresClient, runner: Task<Void, Never>, migration: MigrationReport,
                 availability: PostgresAvailability) {
        self.availability = availability
        location = options.endpoint.displayName
        self.client = client
        self.runner = runner
        self.migration = migration
        logger = options.logger
        defaultMaxAttempts = options.defaultMaxAttempts
        operationTimeout = options.operationTimeout
    }

    /// Connects and brings the schema up to date under an advisory lock, so replicas starting
    /// together migrate once. Refuses a database written by a newer helpdesk.
    public static func open(options: Options) async throws -> PostgresStore {
        var configuration: PostgresClient.Configuration
        do {
            configuration = try options.endpoint.clientConfiguration()
        } catch {
            throw StoreError.cannotOpen(path: options.endpoint.displayName, reason: "\(error)")
        }
        configuration.options.maximumConnections = max(2, options.maxConnections)
        // Bounded on the server: a statement or lock wait that hangs, and a replica that froze inside a
        // transaction holding the audit lock, end there instead of stalling every replica.
        configuration.options.additionalStartupParameters.append(("options", Self.sessionLimits))
        // One connection first: a wrong password or an unreachable host fails now with PostgreSQL's
        // own reason, where the pool would retry quietly until the operation timeout.
        do {
            // Bounded by the connect timeout, not a task group: a connection dropped unclosed is a leak.
            let probe = try await PostgresConnection.connect(configuration: try options.endpoint.connectionConfiguration(), id: 0,
                                                             logger: options.logger)
            try? await probe.close()
        } catch {
            throw StoreError.cannotOpen(path: options.endpoint.displayName, reason: describe(error))
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: options.logger)
        let runner = Task { await client.run() }
        do {
            let migration = try await withDeadline(options.operationTimeout, location: options.endpoint.displayName) {
                try await PostgresMigrator.prepare(client: client, options: options)
            }
            let availability = PostgresAvailability(endpoint: options.endpoint, logger: options.logger)
            return PostgresStore(options: options, client: client, runner: runner, migration: migration, availability: availability)
        } catch {
            runner.cancel()
            if let error = error as? StoreError {
                if case .unavailable(let reason) = error { throw StoreError.cannotOpen(path: options.endpoint.displayName, reason: reason) }
                throw error
            }
            throw StoreError.cannotOpen(path: options.endpoint.displayName, reason: PostgresEndpoint.describe(error))
        }
    }

    @discardableResult
    public func apply(_ changes: ChangeSet) async throws -> ChangeSetOutcome {
        guard !closed.load(ordering: .acquiring) else { throw StoreError.closed }
        var changes = changes
        // Taken here, on the caller's task: the group commit runs the change set on its own.
        if changes.origin == nil, !changes.jobs.isEmpty || !changes.slackMessages.isEmpty || !changes.alerts.isEmpty || changes.notification != nil {
            changes.origin = WorkOrigin.current()
        }
        let outcome = try await committer.apply(changes, store: self)
        if outcome.jobIDs.contains(where: { $0 != nil }) { workSignal.signal() }
        if !changes.slackMessages.isEmpty || changes.notification != nil { outboxSignal.signal() }
        return outcome
    }

    public func unhealthyReason() async -> String? {
        if let reason = availability.outage { return "store does not answer: \(reason)" }
        do {
            let applied = try await read(timeout: .seconds(2)) { connection in
                try await connection.rows("SELECT identifier FROM helpdesk_migrations", self.logger).map { try $0[0].decode(String.self) }
            }
            let missing = Set(PostgresSchema.knownIdentifiers).subtracting(applied)
            return missing.isEmpty ? nil : "store migrations are not all applied"
        } catch {
            return "store does not answer: \(Self.describe(error))"
        }
    }

    public func close() async throws {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        await committer.drain()
        stopped.store(true, ordering: .releasing)
        availability.stop()
        runner.cancel()
    }

    public var auditChain: AuditChain? { chain.withLock { $0 } }

    public func attachAuditChain(_ chain: AuditChain) {
        self.chain.withLock { $0 = chain }
    }

    /// One transaction on a pooled connection. A deadlock or serialization failure runs `body`
    /// again (it only touches the database); a lost connection or a database that does not answer
    /// within the operation timeout fails with ``StoreError/unavailable(reason:)``.
    func transaction<R: Sendable>(timeout: Duration? = nil, _ body: @Sendable @escaping (PostgresConnection) async throws -> R) async throws -> R {
        guard !stopped.load(ordering: .acquiring) else { throw StoreError.closed }
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await withDeadline(timeout ?? operationTimeout) { [client, logger] in
                    try await client.withConnection { connection in
                        // Explicit: a database defaulting to REPEATABLE READ would read the audit head from a
                        // snapshot older than the lock that guards it.
                        try await connection.run("BEGIN ISOLATION LEVEL READ COMMITTED", logger)
                        do {
                            let value = try await body(connection)
                            try await connection.run("COMMIT", logger)
                            return value
                        } catch {
                            try? await connection.run("ROLLBACK", logger)
                            throw error
                        }
                    }
                }
            } catch where attempt < 4 && Self.isRetryable(error) {
                logger.debug("store transaction retried", metadata: ["reason": "\(Self.describe(error))"])
                continue
            } catch {
                throw Self.storeError(error)
            }
        }
    }

    /// One pooled connection in autocommit mode.
    func read<R: Sendable>(timeout: Duration? = nil, _ body: @Sendable @escaping (PostgresConnection) async throws -> R) async throws -> R {
        guard !stopped.load(ordering: .acquiring) else { throw StoreError.closed }
        do {
            return try await withDeadline(timeout ?? operationTimeout) { [client] in
                try await client.withConnection { connection in try await body(connection) }
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Like ``withDeadline(_:location:_:)``, and fails at once while the probe finds PostgreSQL away,
    /// so a request is answered within Slack's 3 s instead of waiting out the timeout.
    private func withDeadline<R: Sendable>(_ limit: Duration, _ operation: @Sendable @escaping () async throws -> R) async throws -> R {
        if let reason = availability.outage { throw StoreError.unavailable(reason: reason) }
        let availability = availability
        return try await Self.withDeadline(limit, location: location, outage: { availability.outage }, operation)
    }

    /// Runs `operation`, failing with ``StoreError/unavailable(reason:)`` when it takes longer than `limit`
    /// (the pool waits for a connection forever while PostgreSQL is down).
    ///
    /// At the limit the operation is cancelled, and its own outcome decides: waiting for a pooled
    /// connection stops at once (unavailable), but a statement already sent runs to its end (postgres-nio
    /// does not cancel queries; the server's statement and lock timeouts bound it), and work that
    /// committed meanwhile is returned, never reported as not done.
    static func withDeadline<R: Sendable>(_ limit: Duration, location: String, outage: @Sendable @escaping () -> String? = { nil },
                                          _ operation: @Sendable @escaping () async throws -> R) async throws -> R {
        return try await withThrowingTaskGroup(of: DeadlineOutcome<R>.self) { group in
            group.addTask { .value(try await operation()) }
            group.addTask {
                // Checks the probe's verdict while waiting: an outage seen meanwhile ends the wait early.
                let deadline = ContinuousClock.now + limit
                while ContinuousClock.now < deadline, !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    if let reason = outage() { return .outage(reason) }
                }
                return .expired("PostgreSQL at \(location) did not answer within \(limit.seconds.formatted()) s")
            }
            var expiry: String?
            while true {
                do {
                    guard let next = try await group.next() else { break }
                    switch next {
                    case .value(let value):
                        group.cancelAll()
                        return value
                    case .expired(let reason):
                        expiry = reason
                        group.cancelAll()
                    case .outage(let reason):
                        // PostgreSQL is away (the probe says so): answer now, as Slack needs within 3 s; a
                        // statement on a connection to it cannot commit either.
                        group.cancelAll()
                        throw StoreError.unavailable(reason: reason)
                    }
                } catch {
                    group.cancelAll()
                    if let expiry { throw StoreError.unavailable(reason: expiry) }
                    throw error
                }
            }
            throw StoreError.unavailable(reason: expiry ?? "cancelled")
        }
    }

    enum DeadlineOutcome<Value: Sendable>: Sendable {
        case value(Value)
        case expired(String)
        case outage(String)
    }

    /// Server-side limits on every pooled session (migrations lift them for their own transaction).
    static let sessionLimits = "-c statement_timeout=30000 -c lock_timeout=10000 -c idle_in_transaction_session_timeout=30000"

    /// Deadlocks (40P01) and serialization failures (40001) leave nothing behind and may be retried.
    static func isRetryable(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    /// Errors callers understand: store errors pass through; connection problems and server-side
    /// refusals become ``StoreError/unavailable(reason:)`` or ``StoreError/queryFailed(reason:)``.
    static func storeError(_ error: any Error) -> any Error {
        if error is StoreError || error is CancellationError { return error }
        guard let error = error as? PSQLError else { return error }
        guard let state = error.serverInfo?[.sqlState] else {
            return StoreError.unavailable(reason: PostgresEndpoint.describe(error))
        }
        // 08: connection exceptions; 57P0x: the server shutting down or starting; 53: out of resources;
        // 25006: a read-only standby (after a failover); 55P03 and 57014: the lock or statement timeout.
        if state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53") || state == "25006" || state == "55P03" || state == "57014" {
            return StoreError.unavailable(reason: PostgresEndpoint.describe(error))
        }
        return StoreError.queryFailed(reason: PostgresEndpoint.describe(error))
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? StoreError { return error.description }
        return PostgresEndpoint.describe(error)
    }
}
