import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskSecurity
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing

@Suite struct GovbotSchedulerTests {
    static func scheduler(_ store: any Store, owner: String, at now: String, jsonDirectory: String? = nil) throws -> GovbotScheduler {
        let schedule = try CronSchedule(parsing: "0 * * * *")
        var settings = GovbotSettings()
        settings.schedule = schedule
        settings.window = .seconds(3600)
        settings.jsonDirectory = jsonDirectory
        let clock = CronScheduleTests.utc(now)
        return GovbotScheduler(store: store, schedule: schedule, settings: settings,
                               reporter: try GovbotReportTests.reporter(store), channel: "C0GOVBOT",
                               render: { report in .object(["text": .string("govbot \(report.outcome)")]) },
                               // Two live processes sharing the file (a server and `helpdesk govbot` beside it):
                               // this test's pid and init's, so neither judges the other gone.
                               owner: LeaseOwner(host: LeaseOwner.thisProcess.host, pid: owner == "a" ? LeaseOwner.thisProcess.pid : 1,
                                                 instance: owner),
                               logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), now: { clock })
    }

    @Test func aSlotRunsOnceAcrossTwoSchedulersOnOneStore() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try await withTemporaryStore { store in
            let reports = folder.file("reports")
            let first = try Self.scheduler(store, owner: "a", at: "2025-01-01T10:20:00Z", jsonDirectory: reports)
            let second = try Self.scheduler(store, owner: "b", at: "2025-01-01T10:20:00Z", jsonDirectory: reports)
            let slot = CronScheduleTests.utc("2025-01-01T10:00:00Z")
            #expect(await first.runOnce() == .reported(slot: slot, outcome: "clean"))
            #expect(await second.runOnce() == .alreadyReported(slot: slot))
            #expect(await first.runOnce() == .alreadyReported(slot: slot), "and not again by the one that ran it")
            #expect(try await store.progress.position(GovbotScheduler.progressMark) == Int64(slot.timeIntervalSince1970))

            // The next slot, both at once: one reports, the other finds it reported or the lease held.
            let third = try Self.scheduler(store, owner: "a", at: "2025-01-01T11:05:00Z", jsonDirectory: reports)
            let fourth = try Self.scheduler(store, owner: "b", at: "2025-01-01T11:05:00Z", jsonDirectory: reports)
            async let one = third.runOnce()
            async let other = fourth.runOnce()
            let results = await [one, other]
            let next = CronScheduleTests.utc("2025-01-01T11:00:00Z")
            #expect(results.filter { $0 == .reported(slot: next, outcome: "clean") }.count == 1, "\(results)")

            let events = try await store.audit.latest(AuditFilter(kind: "govbot_report"), limit: 10)
            #expect(events.count == 2 && events.allSatisfy { $0.principal == "govbot" && $0.target == "C0GOVBOT" })
            #expect(events.first?.data.contains(#""outcome":"clean""#) == true)
            #expect(try await store.slackOutbox.entries(channel: "C0GOVBOT").count == 2)

            let file = (reports as NSString).appendingPathComponent("govbot-20250101T100000Z.json")
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "a report names people: owner-only")
            let written = try GovbotReport.decoder.decode(GovbotReport.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
            #expect(written.window.to == slot && written.window.from == slot.addingTimeInterval(-3600))
        }
    }

    @Test func slotsMissedWhileDownRunOnlyTheLatest() async throws {
        try await withTemporaryStore { store in
            let beforeDown = await (try Self.scheduler(store, owner: "a", at: "2025-01-01T08:10:00Z")).runOnce()
            #expect(beforeDown == .reported(slot: CronScheduleTests.utc("2025-01-01T08:00:00Z"), outcome: "clean"))
            // Down from 08:10 to 12:30: the 09:00, 10:00 and 11:00 slots are not made up for.
            let afterDown = await (try Self.scheduler(store, owner: "a", at: "2025-01-01T12:30:00Z")).runOnce()
            #expect(afterDown == .reported(slot: CronScheduleTests.utc("2025-01-01T12:00:00Z"), outcome: "clean"))
            #expect(try await store.audit.latest(AuditFilter(kind: "govbot_report"), limit: 10).count == 2)
        }
    }
}
