import Foundation
import HelpdeskCore
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// What every store does, whatever holds it: on SQLite and on PostgreSQL. The SQLite file's own
/// behaviour is in SQLiteStoreTests; several PostgreSQL replicas at once in PostgresReplicaStoreTests.
@Suite struct StoreTests {
    /// The principal index leaves every command's request_received out (v19); lookups by principal still
    /// find every kind, requests included, newest first and only the principal's own; those no index
    /// serves read a bounded window of the newest events.
    @Test(arguments: StoreKind.allCases)
    func auditLookupsByPrincipalFindEveryKind(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            for person in ["slack:U1", "slack:U2", "slack:U1"] {
                try await store.apply(ChangeSet(audit: [
                    AuditDraft(kind: "request_received", principal: person, data: .object(["text": .string("help")])),
                    AuditDraft(kind: "policy_decision", principal: person, target: "orders-db"),
                ]))
            }
            let decisions = try await store.audit.latest(AuditFilter(principal: "slack:U1", kind: "policy_decision", target: "orders-db"),
                                                         limit: 10)
            #expect(decisions.map(\.seq) == [6, 2])
            let requests = try await store.audit.latest(AuditFilter(principal: "slack:U1", kind: "request_received"), limit: 10)
            #expect(requests.map(\.seq) == [5, 1])
            let everything = try await store.audit.latest(AuditFilter(principal: "slack:U2"), limit: 10)
            #expect(everything.map(\.kind) == ["policy_decision", "request_received"])
            #expect(try await store.audit.latest(AuditFilter(principal: "slack:U1", kind: "policy_decision", beforeSeq: 6), limit: 10)
                .map(\.seq) == [2])
            // No index serves a principal alone: only the newest principalScanWindow events before beforeSeq are read.
            let window = AuditFilter.principalScanWindow
            #expect(try await store.audit.latest(AuditFilter(principal: "slack:U1", beforeSeq: window + 3), limit: 10).map(\.seq) == [6, 5])
            #expect(try await store.audit.latest(AuditFilter(principal: "slack:U1", kind: "request_received", beforeSeq: window + 2),
                                                 limit: 10).map(\.seq) == [5])
            #expect(try await store.audit.latest(AuditFilter(principal: "slack:U1", kind: "policy_decision", beforeSeq: window + 3),
                                                 limit: 10).map(\.seq) == [6, 2])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func storedDataSurvivesReopening(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let location = try await TemporaryStoreLocation.fresh(kind, in: folder)
        let first = try await location.open()
        #expect(await first.unhealthyReason() == nil)
        let outcome = try await first.apply(ChangeSet(jobs: [NewJob(kind: "k", payload: "{}")]))
        try await first.close()
        let second = try await location.open()
        let id = try #require(outcome.jobIDs.first ?? nil)
        #expect(try await second.jobs.job(id: id)?.kind == "k")
        #expect(await second.unhealthyReason() == nil)
        #expect(second.migration.applied.isEmpty, "nothing left to migrate the second time")
        try await second.close()
    }

    @Test(arguments: StoreKind.allCases)
    func duplicateDedupKeyIsSkippedNotFailed(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let job = NewJob(kind: "slack.command", payload: "{}", dedupKey: "slack:trigger-1")
            let first = try await store.apply(ChangeSet(jobs: [job]))
            let again = try await store.apply(ChangeSet(jobs: [job, NewJob(kind: "other", payload: "{}")]))
            #expect(first.jobIDs.first! != nil)
            #expect(again.jobIDs.first! == nil)
            #expect(again.jobIDs.last! != nil)
            #expect(try await store.jobs.list(state: nil, limit: 10).count == 2)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentWritesAllLandOnce(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let writes = 500
            let ids = try await withThrowingTaskGroup(of: JobID?.self) { group in
                for index in 0..<writes {
                    group.addTask {
                        try await store.apply(ChangeSet(jobs: [NewJob(kind: "bulk", payload: "{\"n\":\(index)}")])).jobIDs.first ?? nil
                    }
                }
                var ids: [JobID] = []
                for try await id in group { if let id { ids.append(id) } }
                return ids
            }
            #expect(ids.count == writes && Set(ids).count == writes, "each write its own job")
            #expect(try await store.jobs.stats(now: Date()).counts[.queued] == writes)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func writesAfterCloseFailClearly(kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try await TemporaryStoreLocation.fresh(kind, in: folder).open()
        try await store.close()
        await #expect(throws: StoreError.closed) {
            try await store.apply(ChangeSet(jobs: [NewJob(kind: "k", payload: "{}")]))
        }
    }
}
