import Foundation
import CSQLiteTuning
import GRDB
import HelpdeskCore

/// The embedded store: one SQLite file in WAL mode, written by one group-committing writer and read
/// by concurrent readers.
public final class SQLiteStore: Store {
    public struct Options: Sendable {
        public var path: String
        /// How long a write waits for another process holding the lock.
        public var busyTimeout: Duration
        /// Attempts for jobs that do not set their own.
        public var defaultMaxAttempts: Int
        /// Whether opening applies pending migrations; when `false` a store behind this binary is
        /// refused with ``StoreError/olderSchema(path:version:latest:pending:)`` (`helpdesk migrate` applies them).
        public var migrateOnOpen: Bool
        /// With ``migrateOnOpen`` off, still builds the schema of a store with no migrations applied:
        /// a new file, which no server can be using (one refuses or migrates it at start). Commands
        /// other than `serve` and `migrate` set it, so a fresh machine needs no `helpdesk migrate`.
        public var initializeEmpty: Bool
        /// Called before migrations start, with the schema they start from (they may take a while).
        public var willMigrate: (@Sendable (SchemaStatus) -> Void)?
        /// The write-ahead log's size (frames) from which it starts over, for tests.
        var walRestartFrames = WALCheckpointer.restartFrames
        /// How long the writer waits for more writes in a steady flow (see ``GroupCommitWriter``).
        var commitGatherWindow: Duration = .microseconds(500)

        public init(path: String, busyTimeout: Duration = .seconds(5), defaultMaxAttempts: Int = 8, migrateOnOpen: Bool = true,
                    initializeEmpty: Bool = false, willMigrate: (@Sendable (SchemaStatus) -> Void)? = nil) {
            self.path = path
            self.busyTimeout = busyTimeout
            self.defaultMaxAttempts = defaultMaxAttempts
            self.migrateOnOpen = migrateOnOpen
            self.initializeEmpty = initializeEmpty
            self.willMigrate = willMigrate
        }
    }

    public let path: String
    public var location: String { path }
    /// The schema before and after this open (the migrations it applied, if any).
    public let migration: MigrationReport
    let database: DatabasePool
    let writer: GroupCommitWriter
    let checkpointer: WALCheckpointer
    /// The writer connection's page cache, KiB.
    static let writerCacheKiB = 32_768
    /// How much of a write's savepoint journal SQLite keeps in memory (set as the process loaded, see
    /// CSQLiteTuning); 0 if SQLite refused, leaving its 64 KB.
    static var savepointJournalMemoryBytes: Int { helpdesk_sqlite_subjournal_spill_bytes() }
    let defaultMaxAttempts: Int
    let workSignal = WakeSignal()
    let outboxSignal = WakeSignal()
    public var jobs: any JobQueue { SQLiteJobQueue(store: self) }
    public var incidents: any IncidentIndex { SQLiteIncidentIndex(store: self) }
    public var audit: any AuditLog { SQLiteAuditLog(store: self) }
    public var approvals: any ApprovalStore { SQLiteApprovalStore(store: self) }
    public var slackOutbox: any SlackOutboxStore { SQLiteSlackOutbox(store: self) }
    public var webSessions: any WebSessionStore { SQLiteWebSessions(store: self) }
    public var alerts: any AlertIndex { SQLiteAlertIndex(store: self) }
    public var executions: any ExecutionLog { SQLiteExecutionLog(store: self) }
    public var storms: any StormStore { SQLiteStorms(store: self) }
    public var retention: any RetentionStore { SQLiteRetention(store: self) }
    public var singletons: any SingletonLeases { SQLiteSingletonLeases(store: self) }
    public var progress: any ProgressStore { SQLiteProgress(store: self) }

    /// Opens the file, creating it and its folder owner-only when missing, and applies pending
    /// migrations unless ``Options/migrateOnOpen`` is off. A file from a newer helpdesk is always refused.
    public init(options: Options) throws {
        _ = Self.savepointJournalMemoryBytes  // referenced, so the linker keeps CSQLiteTuning's setting
        path = options.path
        defaultMaxAttempts = options.defaultMaxAttempts
        try Self.prepareLocation(options.path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(options.busyTimeout.components.seconds))
        configuration.label = "helpdesk.store"
        configuration.prepareDatabase { db in
            // WAL plus NORMAL: a commit survives a process crash; only a power loss may drop the last
            // commits, and it never corrupts the file.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        // Copied before the writer's own settings below (the backstop, its page cache): prepareDatabase
        // appends to the copy's list, so the checkpointer's connection gets only the lines above.
        var checkpointConfiguration = configuration
        checkpointConfiguration.label = "helpdesk.store.checkpoint"
        configuration.prepareDatabase { db in
            // WALCheckpointer checkpoints off the writer's thread; this only bounds the log if it falls behind.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(WALCheckpointer.backstopPages)")
            if !db.configuration.readonly {
                // The writer's page cache (SQLite's default is 2 MB). An alert storm inserts by fingerprint, a
                // random key: with 2 MB the writer read index pages back from the OS on every other insert.
                try db.execute(sql: "PRAGMA cache_size = -\(Self.writerCacheKiB)")
            }
        }
        do {
            database = try DatabasePool(path: options.path, configuration: configuration)
        } catch {
            throw StoreError.cannotOpen(path: options.path, reason: Self.describe(error))
        }
        do {
            migration = try Self.prepareSchema(database, path: options.path, options: options)
        } catch let error as StoreError {
            try? database.close()
            throw error
        } catch {
            try? database.close()
            throw StoreError.cannotOpen(path: options.path, reason: Self.describe(error))
        }
        checkpointer = WALCheckpointer(path: options.path, configuration: checkpointConfiguration, restartFrames: options.walRestartFrames)
        writer = GroupCommitWriter(database: database, checkpointer: checkpointer, gatherWindow: options.commitGatherWindow)
    }

    @discardableResult
    public func apply(_ changes: ChangeSet) async throws -> ChangeSetOutcome {
        var stamped = changes
        // Taken here, on the caller's task: the writer runs the change set on its own.
        if stamped.origin == nil, !stamped.jobs.isEmpty || !stamped.slackMessages.isEmpty || !stamped.alerts.isEmpty || stamped.notification != nil {
            stamped.origin = WorkOrigin.current()
        }
        let changes = stamped
        let defaultMaxAttempts = defaultMaxAttempts
        if changes.audit.count == 1, changes.isOnlyAudit {
            // One event and nothing else (every Slack command's and API call's record, help answered
            // inline): one INSERT of one row, which needs no savepoint of its own.
            let draft = changes.audit[0]
            try await writer.write(savepoint: false) { db in try SQLiteAuditLog.append([draft], in: db, now: Date()) }
            return ChangeSetOutcome(jobIDs: [])
        }
        let outcome = try await writer.write { db in
            try Self.apply(changes, in: db, now: Date(), defaultMaxAttempts: defaultMaxAttempts)
        }
        if outcome.jobIDs.contains(where: { $0 != nil }) { workSignal.signal() }
        if !changes.slackMessages.isEmpty || changes.notification != nil { outboxSignal.signal() }
        return outcome
    }

    private static let insertAlertSQL = """
        INSERT INTO alerts (fingerprint, starts_at, status, group_key, receiver, labels, annotations, ends_at, generator_url,
                            received_at, seen_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
        """

    static func apply(_ changes: ChangeSet, in db: Database, now: Date, defaultMaxAttempts: Int) throws -> ChangeSetOutcome {
        var ids: [JobID?] = []
        ids.reserveCapacity(changes.jobs.count)
        let origin = changes.origin?.storedText
        for job in changes.jobs {
            try db.run("""
                    INSERT INTO jobs (kind, payload, dedup_key, state, max_attempts, run_at, created_at, updated_at, origin)
                    VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)
                    ON CONFLICT (dedup_key) DO NOTHING
                    """, [job.kind, job.payload, job.dedupKey, job.maxAttempts ?? defaultMaxAttempts,
                            (job.runAt ?? now).timeIntervalSince1970, now.timeIntervalSince1970, now.timeIntervalSince1970, origin])
            ids.append(db.changesCount == 0 ? nil : db.lastInsertedRowID)
        }
        for incident in changes.incidents {
            try db.run("""
                    INSERT INTO incidents (id, created_at, target, trigger, summary, severity, finding_count, bundle_path, bundle_bytes)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [incident.id, incident.createdAt.timeIntervalSince1970, incident.target, incident.trigger, incident.summary,
                            incident.severity, incident.findingCount, incident.bundlePath, incident.bundleBytes])
            if let content = incident.bundleContent {
                try db.run("INSERT INTO incident_bundles (incident_id, content) VALUES (?, ?)", [incident.id, content])
            }
        }
        var newAlerts: [Bool] = []
        var inserted: [Int64?] = []
        // Bound and stepped with SQLite's calls: GRDB's argument boxes cost the single writer about as
        // much as SQLite's own insert (an alert storm's bottleneck). Every value is bound again each time.
        let insertAlert = changes.alerts.isEmpty ? nil : try RawStatement(db.cachedStatement(sql: insertAlertSQL), in: db)
        for alert in changes.alerts {
            let received = alert.receivedAt.timeIntervalSince1970
            if let insertAlert {
                try insertAlert.bind(alert.fingerprint, at: 1)
                try insertAlert.bind(alert.startsAt, at: 2)
                try insertAlert.bind(alert.status, at: 3)
                try insertAlert.bind(alert.groupKey, at: 4)
                try insertAlert.bind(alert.receiver, at: 5)
                try insertAlert.bind(alert.labelsText, at: 6)
                try insertAlert.bind(alert.annotationsText, at: 7)
                try insertAlert.bind(alert.endsAt, at: 8)
                try insertAlert.bind(alert.generatorURL, at: 9)
                try insertAlert.bind(received, at: 10)
                try insertAlert.bind(received, at: 11)
                _ = try insertAlert.step()
                insertAlert.reset()
            }
            let isNew = db.changesCount == 1
            newAlerts.append(isNew)
            inserted.append(isNew ? db.lastInsertedRowID : nil)
            if isNew, changes.notification == nil {
                ids += try apply(changes.followingOn(alert.onNew), in: db, now: now, defaultMaxAttempts: defaultMaxAttempts).jobIDs
            }
            try SQLiteAlertGroups.markSeen(alert, isNew: isNew, in: db)
        }
        var storm: StormID?
        if let notification = changes.notification {
            try SQLiteAlertGroups.touch(notification, in: db)
            let effects = try SQLiteStorms.apply(notification, alerts: changes.alerts, inserted: inserted, in: db, now: now)
            ids += try apply(changes.followingOn(effects.jobs), in: db, now: now, defaultMaxAttempts: defaultMaxAttempts).jobIDs
            try SQLiteSlackOutbox.enqueue(effects.messages, in: db, now: now, origin: origin)
            storm = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM storms WHERE channel = ? AND closed_at IS NULL"), arguments: [notification.channel])
        }
        try SQLiteAuditLog.append(changes.audit, in: db, now: now)
        try SQLiteSlackOutbox.enqueue(changes.slackMessages, in: db, now: now, origin: origin)
        try SQLiteProgress.set(changes.progress, in: db, now: now)
        return ChangeSetOutcome(jobIDs: ids, newAlerts: newAlerts, storm: storm)
    }

    public func unhealthyReason() async -> String? {
        // A full disk still answers reads: what the writer refused lately is what tells.
        if let refused = writer.recentlyUnavailable(within: .seconds(30)) { return "the store refused a write within 30 s: \(refused)" }
        do {
            let migrator = SQLiteMigrations.migrator
            let complete = try await database.read { db in try migrator.hasCompletedMigrations(db) }
            return complete ? nil : "store migrations are not all applied"
        } catch {
            return "store does not answer: \(Self.describe(error))"
        }
    }

    public func close() async throws {
        writer.close()
        checkpointer.close()
        try database.close()
    }

    /// Group commits so far and the writes they carried.
    public var writeCounters: (commits: Int, writes: Int) { writer.counters }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message ?? "\(error.resultCode)"
        }
        return "\(error)"
    }
}

extension Database {
    /// Runs a statement prepared once per connection: the writes every request makes skip SQLite's
    /// parser and GRDB's authorizer, which profiling showed as a tenth of the webhook's CPU.
    func run(_ sql: String, _ arguments: StatementArguments = []) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
