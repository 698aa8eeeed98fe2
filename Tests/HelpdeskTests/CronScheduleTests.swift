import Foundation
import HelpdeskConfig
import HelpdeskCore
import Testing

@Suite struct CronScheduleTests {
    static func utc(_ text: String) -> Date {
        (try? Date(text, strategy: .iso8601)) ?? Date(timeIntervalSince1970: 0)
    }

    static func latest(_ expression: String, atOrBefore text: String) throws -> String? {
        try CronSchedule(parsing: expression).latest(atOrBefore: utc(text))?.formatted(.iso8601)
    }

    @Test func listsRangesAndStepsMatchTheirMinutes() throws {
        let schedule = try CronSchedule(parsing: "*/15 0-6/2 1,15 * *")
        #expect(schedule.matches(Self.utc("2025-01-15T04:45:30Z")))
        #expect(!schedule.matches(Self.utc("2025-01-15T04:50:00Z")), "not a quarter hour")
        #expect(!schedule.matches(Self.utc("2025-01-15T05:00:00Z")), "odd hour")
        #expect(!schedule.matches(Self.utc("2025-01-16T04:45:00Z")), "not the 1st or 15th")
        #expect(try CronSchedule(parsing: "5/20 * * * *").matches(Self.utc("2025-01-01T00:45:00Z")), "a/n runs from a to the end")
        #expect(schedule.description == "*/15 0-6/2 1,15 * *")
    }

    @Test func latestSlotIsAtOrBeforeNowInUTC() throws {
        #expect(try Self.latest("0 6 * * *", atOrBefore: "2025-03-10T05:59:59Z") == "2025-03-09T06:00:00Z")
        #expect(try Self.latest("0 6 * * *", atOrBefore: "2025-03-10T06:00:30Z") == "2025-03-10T06:00:00Z")
        #expect(try Self.latest("*/15 * * * *", atOrBefore: "2025-03-10T10:07:00Z") == "2025-03-10T10:00:00Z")
        #expect(try Self.latest("0 0 1 1 *", atOrBefore: "2025-03-10T00:00:00Z") == "2025-01-01T00:00:00Z")
        #expect(try Self.latest("0 0 29 2 *", atOrBefore: "2025-03-01T00:00:00Z") == "2024-02-29T00:00:00Z", "the last leap day")
    }

    @Test func weekdaysAndTheDayOrRule() throws {
        // 2025-03-09 is a Sunday: the last weekday 09:30 is Friday the 7th.
        #expect(try Self.latest("30 9 * * 1-5", atOrBefore: "2025-03-09T12:00:00Z") == "2025-03-07T09:30:00Z")
        // Both day fields restricted: the 13th or a Friday, whichever came last.
        #expect(try Self.latest("0 0 13 * 5", atOrBefore: "2025-06-12T12:00:00Z") == "2025-06-06T00:00:00Z")
        #expect(try Self.latest("0 0 13 * 5", atOrBefore: "2025-07-14T01:00:00Z") == "2025-07-13T00:00:00Z")
        // 7 is Sunday too.
        #expect(try Self.latest("0 12 * * 7", atOrBefore: "2025-03-10T00:00:00Z") == "2025-03-09T12:00:00Z")
    }

    @Test func nextSlotIsStrictlyAfter() throws {
        let schedule = try CronSchedule(parsing: "*/15 * * * *")
        #expect(schedule.next(after: Self.utc("2025-03-10T10:07:00Z"))?.formatted(.iso8601) == "2025-03-10T10:15:00Z")
        #expect(schedule.next(after: Self.utc("2025-03-10T10:15:00Z"))?.formatted(.iso8601) == "2025-03-10T10:30:00Z")
        #expect(try CronSchedule(parsing: "0 6 * * *").next(after: Self.utc("2025-12-31T07:00:00Z"))?.formatted(.iso8601)
            == "2026-01-01T06:00:00Z")
    }

    @Test(arguments: [
        ("* * *", "expression"), ("* * * * * *", "expression"), ("60 * * * *", "minute"), ("* 24 * * *", "hour"),
        ("* * 0 * *", "day-of-month"), ("* * * 13 *", "month"), ("* * * * 8", "day-of-week"), ("* * * * MON", "day-of-week"),
        ("*/0 * * * *", "minute"), ("5-1 * * * *", "minute"), ("1,,2 * * * *", "minute"), ("0 0 30 2 *", "day-of-month"),
    ])
    func refusesWithTheFieldNamed(expression: String, field: String) {
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule(parsing: expression) }
        do {
            _ = try CronSchedule(parsing: expression)
        } catch {
            #expect(error.field == field, "\(expression): \(error)")
            #expect(error.description.hasPrefix(field == "expression" ? "expected 5 fields" : "\(field): "))
        }
    }

    @Test func configurationReadsTheGovbotSectionAndNamesABadSchedule() throws {
        let configuration = try HelpdeskConfiguration(yaml: """
            govbot:
              schedule: "0 6 * * 1-5"
              window: 7d
              channel: C0GOVBOT
              json_dir: /var/lib/helpdesk/govbot
            """, file: "helpdesk.yaml")
        #expect(configuration.govbot.schedule?.expression == "0 6 * * 1-5")
        #expect(configuration.govbot.window == .seconds(7 * 86400))
        #expect(configuration.govbot.channel == "C0GOVBOT" && configuration.govbot.jsonDirectory == "/var/lib/helpdesk/govbot")
        #expect(try HelpdeskConfiguration(yaml: "", file: "helpdesk.yaml").govbot.schedule == nil, "off by default")
        let issues = configurationIssues("govbot:\n  schedule: \"61 6 * * *\"\n")
        #expect(issues.map(\.keyPath) == ["govbot.schedule"])
        #expect(issues.first?.message.contains("minute") == true)
        let fromEnvironment = try HelpdeskConfiguration(yaml: "", file: "helpdesk.yaml", environment: ["HELPDESK_GOVBOT_SCHEDULE": "30 * * * *"])
        #expect(fromEnvironment.govbot.schedule?.expression == "30 * * * *")
    }
}
