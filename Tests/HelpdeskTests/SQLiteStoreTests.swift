import Foundation
import GRDB
import HelpdeskCore
@testable import HelpdeskStore
import HelpdeskTestSupport
import Synchronization
import Testing

/// What only the SQLite file has: its folder and WAL mode, its migration table, its single writer's
/// group commits. What every store does is in StoreTests, on SQLite and PostgreSQL.
@Suite struct SQLiteStoreTests {
    @Test func freshFileIsCreatedWithItsFolderInWALMode() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("nested/state/helpdesk.sqlite")
        let store = try SQLiteStore(options: .init(path: path))
        #expect(await store.unhealthyReason() == nil)
        try await store.close()
        #expect(FileManager.default.fileExists(atPath: path))
        let mode = try await DatabaseQueue(path: path).read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func fileFromANewerVersionIsRefused() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("helpdesk.sqlite")
        try await SQLiteStore(options: .init(path: path)).close()
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        }
        #expect(throws: StoreError.newerSchema(path: path, unknownMigrations: ["v99-from-the-future"])) {
            try SQLiteStore(options: .init(path: path))
        }
    }

    @Test func unwritableLocationIsExplained() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let blocker = try folder.write("file", "not a folder")
        do {
            _ = try SQLiteStore(options: .init(path: blocker + "/sub/helpdesk.sqlite"))
            Issue.record("opening under a regular file should fail")
        } catch let error as StoreError {
            guard case .cannotOpen(_, let reason) = error else { Issue.record("unexpected \(error)"); return }
            #expect(reason.contains("cannot create the folder"))
        }
    }

    /// A write's savepoint journal stays in memory. Past 64 KB (SQLite's default) it would move to a
    /// temporary file (unlinked at once: only an open descriptor shows it), pwritten page by page from then on.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/fd")))
    func aWritesSavepointJournalStaysInMemory() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        let text = String(repeating: "x", count: 1_000)
        try await store.writer.write { db in
            try db.execute(sql: "CREATE TABLE scratch (n INTEGER PRIMARY KEY, text TEXT NOT NULL)")
            for n in 0..<400 { try db.execute(sql: "INSERT INTO scratch (n, text) VALUES (?, ?)", arguments: [n, text]) }
        }
        let temporaryFiles = try await store.writer.write { db -> Set<String> in
            // Other tests' connections may hold temporary files of their own: only new ones count.
            let before = Self.openSQLiteTemporaryFiles()
            // About a hundred pages committed before: each is journaled (400 KB in all) as it changes.
            try db.execute(sql: "UPDATE scratch SET text = text || 'y'")
            return Self.openSQLiteTemporaryFiles().subtracting(before)
        }
        #expect(temporaryFiles.isEmpty, "the savepoint journal went to \(temporaryFiles)")
        #expect(SQLiteStore.savepointJournalMemoryBytes == 8 << 20)
        try await store.close()
    }

    /// Old incidents leave in batches of ``SQLiteIncidentIndex/removalBatch``: one write each, so a first prune
    /// after a long pause neither holds the writer nor keeps all their freed pages in its savepoint journal.
    @Test func oldIncidentsAreRemovedInBatches() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        func incident(_ id: String, age: TimeInterval) -> IncidentRecord {
            IncidentRecord(id: id, createdAt: Date(timeIntervalSinceNow: -age), target: "db", trigger: "manual", summary: "s", severity: "warning",
                           findingCount: 1, bundlePath: IncidentRecord.storedBundlePrefix + id, bundleBytes: 3, bundleContent: Data([1, 2, 3]))
        }
        let oldCount = SQLiteIncidentIndex.removalBatch * 2 + 50
        try await store.apply(ChangeSet(incidents: (0..<oldCount).map { incident("inc_old\($0)", age: 3_600 + Double($0)) } + [incident("inc_new", age: 0)]))
        let commitsBefore = store.writeCounters.commits
        let removed = try await store.incidents.removeOlder(than: Date(timeIntervalSinceNow: -60))
        #expect(Set(removed.map(\.id)) == Set((0..<oldCount).map { "inc_old\($0)" }))
        #expect(store.writeCounters.commits - commitsBefore == 3)
        #expect(try await store.incidents.bundle(id: "inc_old0") == nil)
        #expect(try await store.incidents.bundle(id: "inc_new") == Data([1, 2, 3]))
        try await store.close()
    }

    /// SQLite names its temporary files etilqs_… and unlinks them once open.
    private static func openSQLiteTemporaryFiles() -> Set<String> {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return Set(descriptors.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)") }
            .filter { $0.contains("etilqs_") })
    }

    @Test func concurrentWritesShareCommits() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        let writes = 2000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<writes {
                group.addTask { try await store.apply(ChangeSet(jobs: [NewJob(kind: "bulk", payload: "{\"n\":\(index)}")])) }
            }
            try await group.waitForAll()
        }
        let counters = store.writeCounters
        #expect(counters.writes == writes)
        #expect(counters.commits < writes, "group commit should put several writes in one transaction")
        #expect(try await store.jobs.stats(now: Date()).counts[.queued] == writes)
        try await store.close()
    }

    /// In a steady flow the writer waits a window before committing, so a write that arrives a moment
    /// after another shares its commit instead of paying for one of its own.
    @Test func aWriteInASteadyFlowWaitsForTheNextOne() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        // The last group carried two, so the window ends when the second arrives: long, so no scheduling is too late.
        let store = try await storeInASteadyFlow(folder, window: .seconds(60), writes: 2)
        let commitsBefore = store.writeCounters.commits

        let first = Task { try await store.apply(ChangeSet(jobs: [NewJob(kind: "flow", payload: "{\"n\":\"first\"}")])) }
        // The second arrives once the first is waiting in its window (an event, not a pause).
        try await waitUntil { store.writer.windowsStarted == 1 }
        _ = try await store.apply(ChangeSet(jobs: [NewJob(kind: "flow", payload: "{\"n\":\"second\"}")]))
        _ = try await first.value
        // With no window the first commits alone, before the second arrives.
        #expect(store.writeCounters.commits == commitsBefore + 1, "the two writes should share one commit")
        try await store.close()
    }

    /// A store whose last commit carried three writes, one after the other: the flow is steady.
    private func storeInASteadyFlow(_ folder: TemporaryDirectory, window: Duration, writes: Int = 3) async throws -> SQLiteStore {
        var options = SQLiteStore.Options(path: folder.file("helpdesk.sqlite"))
        options.commitGatherWindow = window
        let store = try SQLiteStore(options: options)
        // The writer is held while they queue, so they share the next commit.
        let releaseWriter = try await holdWriter(store)
        let group = (0..<writes).map { index in Task { try await store.apply(ChangeSet(jobs: [NewJob(kind: "flow", payload: "{\"n\":\(index)}")])) } }
        try await waitUntil { store.writer.pendingCount == writes }
        try await releaseWriter()
        for task in group { _ = try await task.value }
        return store
    }

    /// The window ends as soon as as many writes wait as the last group carried: three here, in a
    /// window of a minute.
    @Test func theWindowEndsWhenTheLastGroupIsBack() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try await storeInASteadyFlow(folder, window: .seconds(60))
        let commitsBefore = store.writeCounters.commits
        let started = ContinuousClock.now
        @Sendable func write(_ index: Int) async throws { _ = try await store.apply(ChangeSet(jobs: [NewJob(kind: "flow", payload: "{\"again\":\(index)}")])) }
        let first = Task { try await write(0) }
        try await waitUntil { store.writer.windowsStarted == 1 }
        let others = [Task { try await write(1) }, Task { try await write(2) }]
        for task in [first] + others { try await task.value }
        #expect(ContinuousClock.now - started < .seconds(30), "the three waited out the window")
        #expect(store.writeCounters.commits == commitsBefore + 1)
        #expect(store.writer.windowsStarted == 1)
        try await store.close()
    }

    /// A write waiting out a gather window when the store closes still commits: close() commits it at
    /// once (without that, the window ended after the pool had closed: SQLite misuse, checked).
    @Test func closingDuringAGatherWindowCommitsTheWaitingWrite() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try await storeInASteadyFlow(folder, window: .seconds(1))
        let waiting = Task { try await store.apply(ChangeSet(jobs: [NewJob(kind: "flow", payload: "{\"n\":\"last\"}")])) }
        try await waitUntil { store.writer.windowsStarted == 1 }
        try await store.close()
        let outcome = try await waiting.value
        #expect(outcome.jobIDs.first.flatMap { $0 } != nil, "the waiting write committed before close() returned")
    }

    @Test func onlyASteadyFlowWaitsForMoreWrites() {
        let window = Duration.microseconds(500)
        #expect(GroupCommitWriter.gathers(window: window, lastGroup: 5, sinceLastCommit: .microseconds(100), pending: 1))
        #expect(!GroupCommitWriter.gathers(window: window, lastGroup: 1, sinceLastCommit: .microseconds(100), pending: 1), "a lone writer is not delayed")
        #expect(!GroupCommitWriter.gathers(window: window, lastGroup: 5, sinceLastCommit: .milliseconds(50), pending: 1),
                "the first write after a pause is not delayed")
        #expect(!GroupCommitWriter.gathers(window: window, lastGroup: 5, sinceLastCommit: .microseconds(100), pending: GroupCommitWriter.gatherBelow),
                "a writer that is behind commits at once")
        #expect(!GroupCommitWriter.gathers(window: window, lastGroup: 5, sinceLastCommit: .microseconds(100), pending: 0),
                "nothing to wait with: the next write starts the window")
        #expect(!GroupCommitWriter.gathers(window: .zero, lastGroup: 5, sinceLastCommit: .microseconds(100), pending: 1))
        #expect(GroupCommitWriter.gathers(window: window, lastGroup: 2, sinceLastCommit: window * 4 - .microseconds(1), pending: 1),
                "the edges that still wait")
        #expect(GroupCommitWriter.gathers(window: window, lastGroup: 100, sinceLastCommit: .microseconds(100),
                                          pending: GroupCommitWriter.gatherBelow - 1))
        #expect(!GroupCommitWriter.gathers(window: window, lastGroup: 3, sinceLastCommit: .microseconds(100), pending: 3),
                "as many as the last group are already back")
        #expect(!GroupCommitWriter.gathers(window: window, lastGroup: 5, sinceLastCommit: window * 4, pending: 1))
    }

    /// Each write runs in its own savepoint: one that fails halfway (its job inserted, then its incident
    /// refused as a duplicate) leaves nothing behind, and the writes that shared its commit stand.
    @Test func aFailingWriteRollsBackAloneInsideASharedCommit() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        @Sendable func incident(_ id: String) -> IncidentRecord {
            IncidentRecord(id: id, createdAt: Date(), target: "db", trigger: "manual", summary: "s", severity: "info",
                           findingCount: 0, bundlePath: "/nonexistent", bundleBytes: 0)
        }
        try await store.apply(ChangeSet(incidents: [incident("inc_taken")]))
        // The writer is held until every write is queued: they all share the next commit.
        let releaseWriter = try await holdWriter(store)
        let writes = 300
        var tasks: [Task<Bool, Never>] = []
        for index in 0..<writes {
            let failing = index % 7 == 3
            let changes = ChangeSet(jobs: [NewJob(kind: "bulk", payload: "{\"n\":\(index)}")],
                                    incidents: [incident(failing ? "inc_taken" : "inc_\(index)")])
            tasks.append(Task { (try? await store.apply(changes)) != nil })
        }
        try await waitUntil { store.writer.pendingCount == writes }
        let commitsBefore = store.writeCounters.commits
        try await releaseWriter()
        var failed: Set<Int> = []
        for (index, task) in tasks.enumerated() where !(await task.value) { failed.insert(index) }
        #expect(store.writeCounters.commits == commitsBefore + 2, "the held write's commit, then one for all the others")
        #expect(failed == Set((0..<writes).filter { $0 % 7 == 3 }))
        let stored = Set(try await store.database.read { db in try String.fetchAll(db, sql: "SELECT payload FROM jobs") })
        let expected = Set((0..<writes).filter { !failed.contains($0) }.map { "{\"n\":\($0)}" })
        #expect(stored.subtracting(expected).sorted() == [], "jobs of failed writes left behind")
        #expect(expected.subtracting(stored).sorted() == [], "jobs of successful writes missing")
        try await store.close()
    }

    /// A change set of one audit event runs without a savepoint of its own (one INSERT of one row is
    /// atomic in SQLite). One refused in the middle of a shared commit fails alone: the events around it
    /// commit, in an unbroken chain, with every value read back as written.
    @Test func aRefusedAuditOnlyWriteFailsAloneInsideASharedCommit() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        // On the writer's connection only: refuses one kind of event, as a constraint would.
        try await store.writer.write { db in
            try db.execute(sql: """
                CREATE TEMP TRIGGER refuse_event BEFORE INSERT ON audit_events WHEN NEW.kind = 'refused'
                BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                """)
        }
        let releaseWriter = try await holdWriter(store)
        let drafts = (0..<60).map { (index: Int) -> AuditDraft in
            let kind = index % 5 == 2 ? "refused" : "request_received"
            let principal: String? = index % 2 == 0 ? nil : "slack:T1/U\(index) ✓"
            let target: String? = index % 3 == 0 ? "" : nil
            let data = JSONValue.object(["n": .number(Double(index)), "text": .string("é \"\(index)\"\n")])
            return AuditDraft(kind: kind, principal: principal, target: target, data: data)
        }
        var tasks: [Task<Bool, Never>] = []
        for (position, draft) in drafts.enumerated() {
            // Every other one with a job too: those keep their savepoints, in the same group.
            let changes = position % 2 == 0 ? ChangeSet(audit: [draft])
                : ChangeSet(jobs: [NewJob(kind: "bulk", payload: "{\"n\":\(position)}")], audit: [draft])
            tasks.append(Task { (try? await store.apply(changes)) != nil })
            try await waitUntil { store.writer.pendingCount == position + 1 }
        }
        let commitsBefore = store.writeCounters.commits
        let savepointFreeBefore = store.writer.savepointFreeWrites
        try await releaseWriter()
        var succeeded: [Bool] = []
        for task in tasks { succeeded.append(await task.value) }
        #expect(store.writeCounters.commits == commitsBefore + 2, "the held write's commit, then one for all the others")
        #expect(succeeded == drafts.map { $0.kind != "refused" })
        #expect(store.writer.savepointFreeWrites - savepointFreeBefore == 30, "the audit-only writes took the path without a savepoint")
        let events = try await store.audit.events(since: nil, limit: 100)
        let expected = drafts.filter { $0.kind != "refused" }
        #expect(events.map { $0.kind } == expected.map { $0.kind })
        #expect(events.map { $0.principal } == expected.map { $0.principal })
        #expect(events.map { $0.target } == expected.map { $0.target })
        #expect(events.map { $0.data } == expected.map { $0.data.jsonText })
        #expect(events.map { $0.seq } == Array(1...Int64(expected.count)), "a refused event left a gap or a duplicate")
        let verification = try await store.audit.verify(checkpoint: .none)
        #expect(verification.ok, "chain broken: \(verification)")
        #expect(verification.checked == expected.count)
        try await store.close()
    }

    /// Only a change set of audit events takes the writer's path without a savepoint: a field added to
    /// ChangeSet later must be listed in `isOnlyAudit`, or its records would be dropped on that path.
    @Test func everyRecordKindOfAChangeSetKeepsItOffTheAuditOnlyPath() {
        let fields = Set(Mirror(reflecting: ChangeSet()).children.compactMap { $0.label })
        #expect(fields == ["jobs", "incidents", "audit", "slackMessages", "alerts", "notification", "origin", "progress"],
                "ChangeSet's fields changed: list the new one in ChangeSet.isOnlyAudit, then here")
        let audit = [AuditDraft(kind: "request_received")]
        #expect(ChangeSet(audit: audit).isOnlyAudit)
        var withOrigin = ChangeSet(audit: audit)
        withOrigin.origin = WorkOrigin(requestID: "r1")
        #expect(withOrigin.isOnlyAudit, "an origin is not a record")
        #expect(!ChangeSet(jobs: [NewJob(kind: "k", payload: "{}")], audit: audit).isOnlyAudit)
        #expect(!ChangeSet(audit: audit, progress: [ProgressMark(name: "m", position: 1)]).isOnlyAudit)
    }

    /// A write without a savepoint that fails yet keeps a change (here a trigger's RAISE(FAIL), which
    /// keeps the row it fired on; the schema has none) cannot be undone alone: its group must not commit
    /// that row, and every caller is told exactly whether its event is in the file.
    @Test func aSavepointFreeWriteThatKeepsAChangeDoesNotCommitIt() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        try await store.writer.write { db in
            try db.execute(sql: """
                CREATE TEMP TRIGGER keep_and_fail AFTER INSERT ON audit_events WHEN NEW.kind = 'kept'
                BEGIN SELECT RAISE(FAIL, 'failed after the insert'); END
                """)
        }
        let releaseWriter = try await holdWriter(store)
        let kinds = ["before_1", "before_2", "kept", "after_1", "after_2"]
        var tasks: [Task<Bool, Never>] = []
        for (position, kind) in kinds.enumerated() {
            let changes = ChangeSet(audit: [AuditDraft(kind: kind)])
            tasks.append(Task { (try? await store.apply(changes)) != nil })
            try await waitUntil { store.writer.pendingCount == position + 1 }
        }
        try await releaseWriter()
        var succeeded: [String: Bool] = [:]
        for (kind, task) in zip(kinds, tasks) { succeeded[kind] = await task.value }
        let stored = Set(try await store.audit.events(since: nil, limit: 100).map { $0.kind })
        #expect(succeeded["kept"] == false)
        #expect(!stored.contains("kept"), "a failed write's row was committed")
        for kind in kinds where kind != "kept" {
            #expect(stored.contains(kind) == succeeded[kind], "\(kind): told \(succeeded[kind] ?? false), in the file: \(stored.contains(kind))")
        }
        #expect(stored.isSuperset(of: ["after_1", "after_2"]), "writes queued after the failed one were lost")
        #expect(try await store.audit.verify(checkpoint: .none).ok)
        try await store.close()
    }

    /// Closing while writes arrive: each write either commits (and is in the file afterwards) or is
    /// refused as closed; none fails on a connection closed under it.
    @Test func writesRacingCloseEitherCommitOrAreRefused() async throws {
        for _ in 0..<30 {
            let folder = try TemporaryDirectory()
            defer { folder.remove() }
            let path = folder.file("helpdesk.sqlite")
            let store = try SQLiteStore(options: .init(path: path))
            let tasks = (0..<16).map { index in
                Task { () -> (any Error)? in
                    do {
                        try await store.apply(ChangeSet(jobs: [NewJob(kind: "race", payload: "{\"n\":\(index)}")]))
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            try await store.close()
            var committed = 0
            for task in tasks {
                guard let error = await task.value else { committed += 1; continue }
                guard case StoreError.closed = error else {
                    Issue.record("a write failed with \(error), not as refused")
                    continue
                }
            }
            let reopened = try SQLiteStore(options: .init(path: path))
            #expect(try await reopened.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs") } == committed)
            try await reopened.close()
        }
    }

    /// Holds the writer inside a write until the returned function is called (it returns once that
    /// write committed): writes queued meanwhile share the next group, in the order they were queued.
    private func holdWriter(_ store: SQLiteStore) async throws -> @Sendable () async throws -> Void {
        let release = DispatchSemaphore(value: 0)
        let holding = Mutex(false)
        let holder = Task { try await store.writer.write { _ in holding.withLock { $0 = true }; release.wait() } }
        try await waitUntil { holding.withLock { $0 } }
        return {
            release.signal()
            try await holder.value
        }
    }

    /// Polls `condition` every millisecond for up to a minute (a loaded run is slow, not stuck).
    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        #expect(condition(), "timed out waiting")
    }

    /// A full disk rolls SQLite's whole transaction back, so the writes that shared the group with the
    /// one that filled it are lost with it: each caller must be told exactly whether its write is in the
    /// file, the one that hit the full disk as "unavailable" (a Slack command then answers "cannot
    /// record", not a 500), and the writes not yet run must not fail with it.
    @Test func aFullDiskFailsOnlyTheWritesItRolledBack() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        try await store.writer.write { db in
            try db.execute(sql: "CREATE TABLE probe (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            _ = try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(pages + 16)")
        }
        @Sendable func insert(_ id: Int, bytes: Int) async -> Result<Void, any Error> {
            do {
                try await store.writer.write { db in
                    try db.execute(sql: "INSERT INTO probe (id, body) VALUES (?, zeroblob(?))", arguments: [id, bytes])
                }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        // The writer is held until all five are queued, one after the other: they share the next group, in this order.
        let releaseWriter = try await holdWriter(store)
        var queued: [(id: Int, task: Task<Result<Void, any Error>, Never>)] = []
        for (position, (id, bytes)) in [(1, 10), (2, 10), (3, 1_000_000), (4, 10), (5, 10)].enumerated() {
            queued.append((id, Task { await insert(id, bytes: bytes) }))
            try await waitUntil { store.writer.pendingCount == position + 1 }
        }
        try await releaseWriter()
        var outcomes: [Int: Result<Void, any Error>] = [:]
        for (id, task) in queued { outcomes[id] = await task.value }
        let stored = Set(try await store.database.read { db in try Int.fetchAll(db, sql: "SELECT id FROM probe") })

        guard case .failure(let error)? = outcomes[3] else { Issue.record("the write larger than the disk succeeded"); return }
        #expect((error as? StoreError)?.isUnavailable == true, "a full disk should read as unavailable, got \(error)")
        #expect("\(error)".contains("full"))
        for id in [1, 2, 4, 5] {
            guard let outcome = outcomes[id] else { continue }
            switch outcome {
            case .success: #expect(stored.contains(id), "write \(id) was reported committed but is not in the file")
            case .failure(let error):
                #expect(!stored.contains(id), "write \(id) was reported failed but is in the file")
                #expect((error as? StoreError)?.isUnavailable == true, "write \(id) failed with \(error)")
            }
        }
        // SQLite rolled the whole transaction back: 1 and 2 went with it and are told why.
        for id in [1, 2] {
            guard case .failure(let error)? = outcomes[id] else { Issue.record("write \(id) survived a whole-transaction rollback"); continue }
            #expect("\(error)".contains("rolled back with another write"), "write \(id): \(error)")
        }
        // Queued behind the one that filled the disk, not run with it: they commit in the next group.
        #expect(stored.isSuperset(of: [4, 5]), "writes queued after the failed one were lost: \(stored.sorted())")
        // Reads still work on a full disk: /readyz learns of it from the writer.
        #expect(await store.unhealthyReason()?.contains("full") == true)
        #expect(!stored.contains(3))
        try await store.close()
    }

    /// Requests are most of the audit log and come from many people: indexed by principal, each insert
    /// dirtied a page of its own (most of the write volume of a burst of commands). The index leaves
    /// them out, and a lookup of another kind by principal is still answered from it.
    @Test func principalLookupsUseTheIndexThatLeavesRequestsOut() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("helpdesk.sqlite")
        let store = try SQLiteStore(options: .init(path: path))
        try await store.apply(ChangeSet(audit: [AuditDraft(kind: "request_received", principal: "slack:U1"),
                                                AuditDraft(kind: "policy_decision", principal: "slack:U1", target: "orders-db")]))
        try await store.close()
        try await DatabaseQueue(path: path).read { db in
            func plan(_ filter: AuditFilter) throws -> String {
                let (sql, arguments) = SQLiteAuditLog.latestQuery(filter, limit: 10)
                return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments)
                    .map { $0["detail"] as String }.joined(separator: "; ")
            }
            #expect(try plan(AuditFilter(principal: "slack:U1", kind: "policy_decision", target: "orders-db"))
                .contains("audit_events_principal_kind"))
            // No index serves these: a bounded walk back along the primary key, never the index by kind
            // (every request ever made) and a sort.
            for unindexed in [AuditFilter(principal: "slack:U1", kind: "request_received"), AuditFilter(principal: "slack:U1"),
                              AuditFilter(principal: "slack:U1", kind: "request_received", beforeSeq: 5)] {
                let walk = try plan(unindexed)
                #expect(walk.contains("INTEGER PRIMARY KEY") && !walk.contains("TEMP B-TREE") && !walk.contains("INDEX"), "\(walk)")
            }
            let indexed = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM audit_events INDEXED BY audit_events_principal_kind
                WHERE principal = 'slack:U1' AND kind <> 'request_received'
                """)
            #expect(indexed == 1)
            let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'audit_events_principal_kind'")
            #expect(definition?.contains("WHERE kind <> 'request_received'") == true)
        }
    }
}
