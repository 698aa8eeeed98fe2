import Foundation
import HelpdeskPostgres
import HelpdeskStore
import HelpdeskTestSupport
import Testing

@Suite struct PostgresStoreOpeningTests {
    @Test func replicasStartingTogetherMigrateOnce() async throws {
        let endpoint = try await TemporaryPostgres.newDatabase()
        // Three replicas open the same empty database at once: one migrates, the others wait and find nothing to do.
        let reports = try await withThrowingTaskGroup(of: MigrationReport.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let store = try await PostgresStore.open(options: TemporaryPostgres.storeOptions(endpoint))
                    defer { Task { try? await store.close() } }
                    return store.migration
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(reports.filter { !$0.applied.isEmpty }.count == 1)
        #expect(reports.allSatisfy { $0.after.isCurrent })
        #expect(reports.allSatisfy { $0.after.known == SQLiteStore.knownMigrations })
    }

    @Test func aDatabaseFromANewerHelpdeskIsRefused() async throws {
        let endpoint = try await TemporaryPostgres.newDatabase()
        let store = try await PostgresStore.open(options: TemporaryPostgres.storeOptions(endpoint))
        try await store.close()
        try await TemporaryPostgres.execute("INSERT INTO helpdesk_migrations VALUES ('v99-from-the-future', 0)", in: endpoint)
        await #expect {
            try await PostgresStore.open(options: TemporaryPostgres.storeOptions(endpoint))
        } throws: { error in
            guard case .newerSchema(_, let unknown)? = error as? StoreError else { return false }
            return unknown == ["v99-from-the-future"]
        }
    }

    @Test func anOlderSchemaIsRefusedWhenMigratingIsNotAllowed() async throws {
        let endpoint = try await TemporaryPostgres.newDatabase()
        let store = try await PostgresStore.open(options: TemporaryPostgres.storeOptions(endpoint))
        try await store.close()
        try await TemporaryPostgres.execute("DELETE FROM helpdesk_migrations WHERE identifier = '\(SQLiteStore.knownMigrations.last!)'", in: endpoint)
        await #expect {
            try await PostgresStore.open(options: TemporaryPostgres.storeOptions(endpoint, migrateOnOpen: false))
        } throws: { error in
            guard case .olderSchema(_, _, _, let pending)? = error as? StoreError else { return false }
            return pending == [SQLiteStore.knownMigrations.last!]
        }
    }

    @Test func aServerThatIsNotThereFailsWithItsAddressAndNoPassword() async throws {
        let connection = try PostgresConnectionString(parsing: "postgres://app@127.0.0.1:1/helpdesk?sslmode=disable&connect_timeout=2")
        await #expect {
            try await PostgresStore.open(options: .init(endpoint: PostgresEndpoint(connection: connection, password: "s3cret-pw"),
                                                        operationTimeout: .seconds(3)))
        } throws: { error in
            let text = "\(error)"
            return text.contains("127.0.0.1:1/helpdesk") && !text.contains("s3cret-pw")
        }
    }
}

@Suite struct SingletonLeaseTests {
    @Test func oneHolderAtATimeAndTheLeaseMovesWhenItLapses() async throws {
        try await withTemporaryStore(.postgres) { store in
            let leases = store.singletons
            let start = Date()
            #expect(try await leases.acquire("sweep", owner: "a", duration: .seconds(30), now: start))
            #expect(try await !leases.acquire("sweep", owner: "b", duration: .seconds(30), now: start.addingTimeInterval(10)))
            // The holder renews.
            #expect(try await leases.acquire("sweep", owner: "a", duration: .seconds(30), now: start.addingTimeInterval(20)))
            #expect(try await !leases.acquire("sweep", owner: "b", duration: .seconds(30), now: start.addingTimeInterval(45)))
            // It stopped renewing: the lease lapses and moves.
            #expect(try await leases.acquire("sweep", owner: "b", duration: .seconds(30), now: start.addingTimeInterval(51)))
            #expect(try await !leases.acquire("sweep", owner: "a", duration: .seconds(30), now: start.addingTimeInterval(52)))
            // Released: taken at once.
            try await leases.release("sweep", owner: "b")
            #expect(try await leases.acquire("sweep", owner: "a", duration: .seconds(30), now: start.addingTimeInterval(53)))
            // Other names are independent.
            #expect(try await leases.acquire("retention", owner: "b", duration: .seconds(30), now: start.addingTimeInterval(53)))
        }
    }

    @Test func aSQLiteServerRestartedAfterACrashTakesItsLeaseAtOnce() async throws {
        // One server per SQLite file: waiting out a dead predecessor's lease would only delay the sweeps.
        try await withTemporaryStore(StoreKind.sqlite) { store in
            let now = Date()
            let me = LeaseOwner.thisProcess
            let crashed = LeaseOwner(host: me.host, pid: Int32.max - 1, instance: "old")
            let first = try await store.singletons.acquire("approval-expiry", owner: crashed.description, duration: .seconds(60), now: now)
            let second = try await store.singletons.acquire("approval-expiry", owner: me.description, duration: .seconds(60),
                                                            now: now.addingTimeInterval(1))
            #expect(first && second)
        }
    }

    @Test func replicasRacingForALeaseGetOneWinner() async throws {
        try await withTemporaryStore(.postgres) { store in
            let now = Date()
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for replica in 0..<8 {
                    group.addTask { try await store.singletons.acquire("digest", owner: "r\(replica)", duration: .seconds(30), now: now) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
        }
    }
}

@Suite struct BundlesInTheStoreTests {
    @Test(arguments: StoreKind.allCases)
    func aBundleKeptInTheStoreIsServedFromItAndPrunedWithItsIncident(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let bytes = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            let old = IncidentRecord(id: "inc_old", createdAt: Date(timeIntervalSinceNow: -3600), target: "db", trigger: "manual", summary: "s",
                                     severity: "warning", findingCount: 1, bundlePath: IncidentRecord.storedBundlePrefix + "inc_old",
                                     bundleBytes: bytes.count, bundleContent: bytes)
            let fresh = IncidentRecord(id: "inc_new", createdAt: Date(), target: "db", trigger: "manual", summary: "s",
                                       severity: "warning", findingCount: 1, bundlePath: IncidentRecord.storedBundlePrefix + "inc_new",
                                       bundleBytes: 3, bundleContent: Data([1, 2, 3]))
            try await store.apply(ChangeSet(incidents: [old, fresh]))
            let listed = try #require(try await store.incidents.incident(id: "inc_old"))
            #expect(listed.bundleIsInStore && listed.bundleContent == nil)  // the index never carries the bytes
            #expect(try await listed.readBundle(from: store) == bytes)
            let removed = try await store.incidents.removeOlder(than: Date(timeIntervalSinceNow: -60))
            #expect(removed.map(\.id) == ["inc_old"])
            #expect(try await store.incidents.bundle(id: "inc_old") == nil)
            #expect(try await store.incidents.bundle(id: "inc_new") == Data([1, 2, 3]))
        }
    }
}
