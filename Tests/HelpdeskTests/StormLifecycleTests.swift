import Foundation
import HelpdeskAgents
import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskCore
import HelpdeskJobs
import HelpdeskOrchestrator
import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing

/// When a storm ends, who keeps a place among its diagnoses, what counts toward it and by whose
/// clock, against a real store (SQLite and PostgreSQL). Times are simulated from `t0`, a minute boundary.
@Suite struct StormLifecycleTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("templates/slack").path
    let rules = StormRules(threshold: 5, diagnoseTop: 2, settle: .seconds(15), digestInterval: .seconds(10), quietPeriod: .seconds(60))

    /// One notification received `at` seconds after t0: `alerts` are (fingerprint, severity rank).
    private func notification(_ alerts: [(String, Int)], group: String, at offset: TimeInterval, status: String = "firing",
                              channel: String = "C1", rules: StormRules? = nil, startsAt: String = "2026-12-03T10:00:00Z") -> ChangeSet {
        let received = Self.t0.addingTimeInterval(offset)
        var changes = ChangeSet()
        for (fingerprint, _) in alerts {
            changes.alerts.append(AlertRecord(
                fingerprint: fingerprint, startsAt: startsAt, status: status, groupKey: group, receiver: "am",
                labels: .object(["alertname": .string("A-\(fingerprint)"), "severity": .string("s")]), annotations: .object([:]),
                endsAt: nil, generatorURL: nil, receivedAt: received,
                onNew: [NewJob(kind: status == "firing" ? "srebot.alert" : "srebot.resolved", payload: fingerprint)]))
        }
        changes.notification = AlertNotificationIntake(
            channel: channel, groupKey: group, groupName: group, severity: "warning", ranks: alerts.map(\.1), rules: rules ?? self.rules,
            calmMessages: [], postsToSlack: true, receivedAt: received)
        return changes
    }

    private func alerts(_ prefix: String, _ count: Int, rank: Int = 0) -> [(String, Int)] {
        (0..<count).map { ("\(prefix)\($0)", rank) }
    }

    private func claim(_ fingerprint: String, rank: Int = 0) -> StormDiagnosisRequest {
        StormDiagnosisRequest(fingerprint: fingerprint, startsAt: "2026-12-03T10:00:00Z", channel: "C1", alertname: "A", severity: "s", rank: rank)
    }

    @Test(arguments: StoreKind.allCases)
    func aTrickleBelowTheThresholdDoesNotKeepAStormOpen(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let storm = try #require(try await store.apply(notification(alerts("burst", 10), group: "g1", at: 0)).storm)
            // One alert every 20 s (3 a minute, threshold 5): the rate fell to 5 at t0+90, so the storm ends 60 s later.
            var closedAt: TimeInterval?
            for offset in stride(from: 100.0, through: 280, by: 20) {
                let outcome = try await store.apply(notification([("t\(Int(offset))", 0)], group: "g2", at: offset))
                let expected: StormID? = closedAt == nil ? storm : nil
                #expect(outcome.storm == expected, "at t0+\(offset)")
                if closedAt == nil, try await store.storms.closeQuiet(now: Self.t0.addingTimeInterval(offset)) == [storm] { closedAt = offset }
            }
            #expect(closedAt == 160, "the first check past t0+150, though an alert came every 20 s")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aRateAboveTheThresholdKeepsItsStormOpenPastTheQuietPeriod(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let storm = try #require(try await store.apply(notification(alerts("burst", 10), group: "g1", at: 0)).storm)
            // 12 a minute for five minutes: above the threshold all along.
            for offset in stride(from: 10.0, through: 300, by: 10) {
                #expect(try await store.apply(notification(alerts("r\(Int(offset))-", 2), group: "g2", at: offset)).storm == storm)
                #expect(try await store.storms.closeQuiet(now: Self.t0.addingTimeInterval(offset)) == [])
            }
            // The last minute's 12 slide out of the window by t0+345; then 60 s of quiet.
            #expect(try await store.storms.closeQuiet(now: Self.t0.addingTimeInterval(400)) == [], "not 60 s after the last alert")
            #expect(try await store.storms.closeQuiet(now: Self.t0.addingTimeInterval(410)) == [storm])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func anOpenStormKeepsTheThresholdItOpenedWith(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let storm = try #require(try await store.apply(notification(alerts("burst", 10), group: "g1", at: 0)).storm)
            var raised = rules
            raised.threshold = 1000  // the configuration changes while the storm is open
            for offset in stride(from: 10.0, through: 200, by: 10) {
                _ = try await store.apply(notification(alerts("r\(Int(offset))-", 2), group: "g2", at: offset, rules: raised))
                #expect(try await store.storms.closeQuiet(now: Self.t0.addingTimeInterval(offset)) == [], "12 a minute is above its 5")
            }
            #expect(try await store.storms.active(channel: "C1")?.id == storm)
            // A new storm elsewhere goes by the new threshold.
            #expect(try await store.apply(notification(alerts("c2-", 10), group: "g3", at: 200, channel: "C2", rules: raised)).storm == nil)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aDiagnosedAlertKeepsItsPlaceUntilItResolvesThenTheNextNewAlertTakesIt(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let opened = try await store.apply(notification(alerts("a", 10), group: "g1", at: 0))
            let storm = try #require(opened.storm)
            #expect(opened.jobIDs.compactMap { $0 }.count == 2)
            let later = Self.t0.addingTimeInterval(20)
            #expect(try await store.storms.claimDiagnosis(claim("a0"), now: later) == .chosen(storm))
            #expect(try await store.storms.claimDiagnosis(claim("a1"), now: later) == .chosen(storm))
            // Started: not even a critical alert displaces them.
            #expect(try await store.apply(notification([("crit", 3)], group: "g2", at: 30)).jobIDs.compactMap { $0 }.isEmpty)
            // a0 resolves: the next new alert, the more severe of two, takes its place.
            _ = try await store.apply(notification([("a0", 0)], group: "g1", at: 40, status: "resolved"))
            #expect(try await store.apply(notification([("w", 1), ("x", 2)], group: "g3", at: 50)).jobIDs.compactMap { $0 }.count == 1)
            var snapshot = try #require(try await store.storms.snapshot(storm, groupLimit: 10))
            #expect(snapshot.candidates.first { $0.fingerprint == "x" }?.state == .queued)
            #expect(!snapshot.candidates.contains { $0.fingerprint == "w" || $0.fingerprint == "crit" })
            // x resolves before it starts: not diagnosed, and its place goes to the next new alert.
            _ = try await store.apply(notification([("x", 2)], group: "g3", at: 55, status: "resolved"))
            #expect(try await store.storms.claimDiagnosis(claim("x", rank: 2), now: Self.t0.addingTimeInterval(70)) == .skipped(storm))
            #expect(try await store.apply(notification([("y", 0)], group: "g4", at: 60)).jobIDs.compactMap { $0 }.count == 1)
            snapshot = try #require(try await store.storms.snapshot(storm, groupLimit: 10))
            let holding = snapshot.candidates.filter { $0.state != .displaced && !$0.resolved }.map(\.fingerprint).sorted()
            #expect(holding == ["a1", "y"], "never more than two places held")
            #expect(snapshot.candidates.first { $0.fingerprint == "a0" }.map { $0.state == .started && $0.resolved } == true)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func resolutionsCountOnlyForAlertsThatFiredFromTheStormsFirstAlertOn(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            // Fired before the storm, though their sender says they started later.
            _ = try await store.apply(notification(alerts("p", 4), group: "g0", at: 0, startsAt: "2030-01-01T00:00:00Z"))
            let storm = try #require(try await store.apply(notification(alerts("s", 4), group: "g1", at: 1)).storm)
            _ = try await store.apply(notification(alerts("p", 4), group: "g0", at: 2, status: "resolved", startsAt: "2030-01-01T00:00:00Z"))
            var snapshot = try #require(try await store.storms.snapshot(storm, groupLimit: 10))
            #expect(snapshot.firing == 4 && snapshot.resolved == 0)
            #expect(try await store.storms.closeQuiet(now: Self.t0.addingTimeInterval(30)) == [], "the storm's own alerts still fire")
            _ = try await store.apply(notification(alerts("s", 4), group: "g1", at: 3, status: "resolved"))
            snapshot = try #require(try await store.storms.snapshot(storm, groupLimit: 10))
            #expect(snapshot.resolved == 4)
            #expect(try await store.storms.closeQuiet(now: Self.t0.addingTimeInterval(30)) == [storm], "all of its own resolved")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func theStormClockIsTheWebhooksReceiveTimeNotTheAlertsStartsAt(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            var settings = AlertmanagerSettings()
            settings.stormThreshold = 5
            let intake = AlertIntake(settings: settings, defaultChannel: "C1", srebot: try Self.srebot(store))
            let alerts = (0..<10).map { index in
                #"{"status": "firing", "labels": {"alertname": "Old", "severity": "warning"}, "annotations": {}, "#
                    + #""startsAt": "2001-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "old\#(index)"}"#
            }
            let body = #"{"version": "4", "groupKey": "g", "status": "firing", "receiver": "am", "alerts": [\#(alerts.joined(separator: ","))]}"#
            let payload = try AlertmanagerPayload.parse(Data(body.utf8))
            let received = Self.t0.addingTimeInterval(7)
            let changes = intake.changes(for: payload, receiver: .init(name: "am", credentials: .none), requestID: "r1", now: received)
            let storm = try #require(try await store.apply(changes).storm)
            let snapshot = try #require(try await store.storms.snapshot(storm, groupLimit: 10))
            #expect(snapshot.startedAt == received && snapshot.lastAlertAt == received)
            #expect(try await store.storms.closeQuiet(now: received.addingTimeInterval(1)) == [], "not quiet since 2001")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func theDigestNamesTheNTheStormOpenedWith(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let storm = try #require(try await store.apply(notification(alerts("a", 10), group: "g1", at: 0)).storm)
            var changed = rules
            changed.diagnoseTop = 7
            _ = try await store.apply(notification(alerts("b", 3), group: "g2", at: 5, rules: changed))
            #expect(try await store.storms.snapshot(storm, groupLimit: 10)?.diagnoseTop == 2)
            let messages = StormMessages(store: store, renderer: try await SlackRenderer(directory: Self.templates))
            let digest = try #require(try await messages.render(.stormDigest(storm)))
            #expect(digest.jsonText.contains("up to 2 of its most severe alerts"), "\(digest.jsonText)")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func anAlertInItsCooldownGivesBackThePlaceItWasGivenInsteadOfUsingItUp(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            let now = Date()
            // The same alert fired a minute ago (an earlier episode); its cooldown is 10 minutes.
            try await store.apply(ChangeSet(alerts: [Self.record("flap", startsAt: "2026-12-03T09:00:00Z", at: now.addingTimeInterval(-60), jobs: false)]))
            var top1 = rules
            top1.diagnoseTop = 1
            var changes = ChangeSet()
            changes.alerts = [Self.record("flap", startsAt: "2026-12-03T10:00:00Z", at: now)] + (0..<9).map { Self.record("quiet\($0)", at: now) }
            changes.notification = AlertNotificationIntake(channel: "C1", groupKey: "g1", groupName: "g1", severity: "warning",
                                                           ranks: [3] + Array(repeating: 0, count: 9), rules: top1, calmMessages: [],
                                                           postsToSlack: false, receivedAt: now)
            let storm = try #require(try await store.apply(changes).storm)
            let job = try #require(try await store.jobs.lease(owner: "test", limit: 10, duration: .seconds(60), now: now.addingTimeInterval(30))
                .first { $0.kind == SrebotAlertJob.kind })
            let outcome = try await SrebotAlertJob(context: try Self.srebot(store)).run(job, logger: Logger(label: "test"))
            #expect(outcome.result == "within cooldown; not diagnosed")
            let snapshot = try #require(try await store.storms.snapshot(storm, groupLimit: 10))
            #expect(snapshot.candidates.map(\.state) == [.displaced], "flap held the one place, and gave it back")
            let next = try await store.apply(notification([("next", 0)], group: "g2", at: now.timeIntervalSince(Self.t0), rules: top1))
            #expect(next.jobIDs.compactMap { $0 }.count == 1, "the next new alert takes it")
        }
    }

    /// A firing alert whose `srebot.alert` job carries its real payload.
    static func record(_ fingerprint: String, startsAt: String = "2026-12-03T10:00:00Z", at received: Date, jobs: Bool = true) -> AlertRecord {
        let labels = ["alertname": "Flapping", "severity": fingerprint == "flap" ? "critical" : "info"]
        let payload = AlertJobPayload(fingerprint: fingerprint, startsAt: startsAt, endsAt: nil, groupKey: "g1", groupStatus: "firing", groupSize: 10,
                                      labels: labels, annotations: [:], channel: "C1", link: nil)
        return AlertRecord(fingerprint: fingerprint, startsAt: startsAt, status: "firing", groupKey: "g1", receiver: "am",
                           labels: .object(labels.mapValues(JSONValue.string)), annotations: .object([:]), endsAt: nil, generatorURL: nil,
                           receivedAt: received, onNew: jobs ? [NewJob(kind: SrebotAlertJob.kind, payload: payload.jobText, maxAttempts: 4)] : [])
    }

    /// An alert bot with no Slack and no runbooks: the tests here never reach a diagnosis.
    static func srebot(_ store: any Store) throws -> SrebotContext {
        let folder = try TemporaryDirectory()
        let orchestrator = Orchestrator(runbooks: [], gate: OpenGate(agents: []), inventory: Infrastructure(),
                                        options: .init(toolTimeout: .seconds(5), bundleDirectory: folder.file("b"), bundleRetention: .seconds(60)),
                                        store: store, logger: Logger(label: "test"))
        return SrebotContext(orchestrator: orchestrator, inventory: Infrastructure(), renderer: nil, slackEnabled: false, store: store,
                             cooldown: .seconds(600))
    }
}
