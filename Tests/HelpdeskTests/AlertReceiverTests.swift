import Foundation
import GRDB
import HelpdeskCore
@testable import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// An alert episode is kept per receiver: the same alert reaching two receivers (two routes, two
/// channels, two Alertmanagers) is recorded and started at each, and a repeat at one is still a repeat.
@Suite struct AlertReceiverTests {
    private func record(_ receiver: String, _ status: String = "firing", at received: Date = Date()) -> AlertRecord {
        AlertRecord(fingerprint: "f00d", startsAt: "2026-12-04T10:00:00Z", status: status, groupKey: "{}/{team=\"\(receiver)\"}:{alertname=\"X\"}",
                    receiver: receiver, labels: .object(["alertname": .string("X")]), annotations: .object([:]), endsAt: nil, generatorURL: nil,
                    receivedAt: received, onNew: [NewJob(kind: "srebot.alert", payload: "{\"receiver\":\"\(receiver)\"}")])
    }

    @Test(arguments: StoreKind.allCases)
    func theSameEpisodeAtASecondReceiverIsRecordedAndStartedThere(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let first = try await store.apply(ChangeSet(alerts: [record("db")]))
            let second = try await store.apply(ChangeSet(alerts: [record("sre")]))
            let repeatAtFirst = try await store.apply(ChangeSet(alerts: [record("db")]))
            #expect(first.newAlerts == [true])
            #expect(second.newAlerts == [true], "another receiver's copy is not a repeat")
            #expect(repeatAtFirst.newAlerts == [false], "Alertmanager re-sending to the same receiver starts nothing")
            #expect(first.jobIDs.compactMap { $0 }.count == 1 && second.jobIDs.compactMap { $0 }.count == 1 && repeatAtFirst.jobIDs.compactMap { $0 }.isEmpty)

            let perReceiver = try await store.alerts.latestPerReceiver(fingerprint: "f00d")
            #expect(Set(perReceiver.map(\.receiver)) == ["db", "sre"])
            #expect(try await store.alerts.instance(fingerprint: "f00d", receiver: "sre", startsAt: "2026-12-04T10:00:00Z")?.receiver == "sre")
        }
    }

    /// Every field as the notification carried it, each value distinct so a column bound to another's
    /// place shows (the SQLite store binds them one by one), NULLs included; a repeat in the same change set
    /// is not new, and each new alert's job is queued between the inserts.
    @Test(arguments: StoreKind.allCases)
    func everyFieldOfAnAlertIsStoredAsReceived(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let received = Date(timeIntervalSince1970: 1_764_842_400.25)
            let full = AlertRecord(fingerprint: "fa11", startsAt: "2026-12-04T10:00:00Z", status: "resolved", groupKey: "{}:{alertname=\"Full\"}",
                                   receiver: "db", labels: .object(["alertname": .string("Full"), "severity": .string("critical")]),
                                   annotations: .object(["summary": .string("ünïcode ✓ and 'quotes'")]), endsAt: "2026-12-04T10:05:00Z",
                                   generatorURL: "http://prometheus:9090/graph?g0.expr=up", receivedAt: received,
                                   onNew: [NewJob(kind: "srebot.alert", payload: "{\"n\":1}")])
            // Every value other than the first's: one left over from the row before would show.
            let bare = AlertRecord(fingerprint: "ba5e", startsAt: "2026-12-04T11:00:00Z", status: "firing", groupKey: "{}:{alertname=\"Bare\"}",
                                   receiver: "sre", labels: .object(["alertname": .string("Bare")]), annotations: .object([:]), endsAt: nil,
                                   generatorURL: nil, receivedAt: received.addingTimeInterval(1), onNew: [NewJob(kind: "srebot.alert", payload: "{\"n\":2}")])
            let outcome = try await store.apply(ChangeSet(alerts: [full, bare, full]))
            #expect(outcome.newAlerts == [true, true, false])
            #expect(outcome.jobIDs.compactMap { $0 }.count == 2)
            let stored = try await store.alerts.list(AlertQuery()).sorted { $0.fingerprint > $1.fingerprint }
            #expect(stored == [
                StoredAlert(fingerprint: "fa11", startsAt: "2026-12-04T10:00:00Z", status: "resolved", groupKey: "{}:{alertname=\"Full\"}",
                            receiver: "db", labels: ["alertname": "Full", "severity": "critical"], annotations: ["summary": "ünïcode ✓ and 'quotes'"],
                            endsAt: "2026-12-04T10:05:00Z", generatorURL: "http://prometheus:9090/graph?g0.expr=up", receivedAt: received),
                StoredAlert(fingerprint: "ba5e", startsAt: "2026-12-04T11:00:00Z", status: "firing", groupKey: "{}:{alertname=\"Bare\"}",
                            receiver: "sre", labels: ["alertname": "Bare"], annotations: [:], endsAt: nil, generatorURL: nil,
                            receivedAt: received.addingTimeInterval(1)),
            ])
            if let sqlite = store as? SQLiteStore {
                // seen_at is never listed: read as stored, a REAL equal to the time received.
                let seen = try await sqlite.database.read { db in
                    try Row.fetchAll(db, sql: "SELECT fingerprint, typeof(seen_at) AS type, seen_at FROM alerts ORDER BY fingerprint")
                        .map { "\($0["fingerprint"] as String) \($0["type"] as String) \($0["seen_at"] as Double)" }
                }
                #expect(seen == ["ba5e real \(received.timeIntervalSince1970 + 1)", "fa11 real \(received.timeIntervalSince1970)"])
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aResolutionAtOneReceiverLeavesTheOtherFiring(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(alerts: [record("db"), record("sre")]))
            let resolved = try await store.apply(ChangeSet(alerts: [record("db", "resolved")]))
            #expect(resolved.newAlerts == [true])
            let firing = try await store.alerts.list(AlertQuery(firingOnly: true))
            #expect(firing.map(\.receiver) == ["sre"])
        }
    }

    /// A store written before alerts were kept per receiver keeps every row and its rowid (storms
    /// compare rowids), and then takes a second receiver's copy. SQLite only: the file is built with
    /// SQLite's migrations up to v14, and a PostgreSQL store starts at v15.
    @Test func migratingKeepsEveryAlertAndItsRowid() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("old.sqlite")
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteMigrations.migrator.migrate(queue, upTo: "v14-alert-groups")
            try await queue.write { db in
                try db.execute(sql: """
                    INSERT INTO alerts (rowid, fingerprint, starts_at, status, group_key, receiver, labels, annotations, received_at, seen_at)
                    VALUES (7, 'f00d', '2026-12-04T10:00:00Z', 'firing', 'g', 'db', '{}', '{}', 1, 1),
                           (9, 'f00d', '2026-12-04T10:00:00Z', 'resolved', 'g', 'db', '{}', '{}', 2, 2)
                    """)
            }
            try queue.close()
        }
        let store = try SQLiteStore(options: .init(path: path))
        let rows = try await store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT rowid, status, receiver, seen_at FROM alerts ORDER BY rowid")
        }
        #expect(rows.map { $0["rowid"] as Int64 } == [7, 9])
        #expect(rows.map { $0["status"] as String } == ["firing", "resolved"])
        #expect(rows.map { $0["seen_at"] as Double } == [1, 2])
        let second = try await store.apply(ChangeSet(alerts: [record("sre")]))
        #expect(second.newAlerts == [true])
        try await store.close()
    }
}
