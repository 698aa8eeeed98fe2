import Foundation
import HelpdeskCore

/// When a rule applies: days of the week and hours of the day in a time zone. Hours are a list
/// (`[9, 10, …, 17]`: those whole hours, as aiHelpDesk writes them) or a range `"09:00-17:30"`
/// (end excluded; a range past midnight such as `"22:00-06:00"` wraps).
public struct Schedule: Sendable, Decodable {
    public enum Day: String, Sendable, CaseIterable, Decodable {
        case sun, mon, tue, wed, thu, fri, sat
    }

    public var days: [Day]
    public var minutes: [ClosedRange<Int>]
    public var timeZone: TimeZone

    enum CodingKeys: String, CodingKey, CaseIterable { case days, hours, timezone }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        days = try container.decodeIfPresent([Day].self, forKey: .days) ?? Day.allCases
        if let list = try? container.decode([Int].self, forKey: .hours) {
            guard list.allSatisfy((0...23).contains) else {
                throw DecodingError.dataCorruptedError(forKey: .hours, in: container, debugDescription: "hours must be 0 to 23")
            }
            minutes = list.map { $0 * 60...$0 * 60 + 59 }
        } else if let text = try container.decodeIfPresent(String.self, forKey: .hours) {
            if let start = text.split(separator: "-").first.flatMap({ Self.minuteOfDay($0.trimmingCharacters(in: .whitespaces)) }), start >= 1440 {
                throw DecodingError.dataCorruptedError(forKey: .hours, in: container, debugDescription: "hours cannot start at 24:00 (\"\(text)\"); write 00:00 for midnight")
            }
            guard let range = Self.parseRange(text) else {
                throw DecodingError.dataCorruptedError(forKey: .hours, in: container, debugDescription: "expected hours like \"09:00-17:00\" or a list such as [9, 10, 11], got \"\(text)\"")
            }
            minutes = range
        } else {
            minutes = [0...1439]
        }
        let name = try container.decodeIfPresent(String.self, forKey: .timezone) ?? "UTC"
        guard let zone = TimeZone(identifier: name) else {
            throw DecodingError.dataCorruptedError(forKey: .timezone, in: container, debugDescription: "unknown time zone \"\(name)\" (use an IANA name such as Europe/Berlin)")
        }
        timeZone = zone
    }

    /// Whether `date` falls inside this schedule, in its time zone.
    public func contains(_ date: Date) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        guard let weekday = parts.weekday, let hour = parts.hour, let minute = parts.minute else { return false }
        let day = Day.allCases[weekday - 1]
        let minuteOfDay = hour * 60 + minute
        return days.contains(day) && minutes.contains { $0.contains(minuteOfDay) }
    }

    static func parseRange(_ text: String) -> [ClosedRange<Int>]? {
        let parts = text.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
        // 24:00 ends a range; as a start it would build 1440...1439, which traps.
        guard parts.count == 2, let start = minuteOfDay(parts[0]), let end = minuteOfDay(parts[1]), start != end, start < 1440 else { return nil }
        return start < end ? [start...end - 1] : [start...1439, 0...max(0, end - 1)].filter { end > 0 || $0.lowerBound == start }
    }

    private static func minuteOfDay(_ text: String) -> Int? {
        let pieces = text.split(separator: ":")
        guard pieces.count == 2, let hour = Int(pieces[0]), let minute = Int(pieces[1]),
              (0...24).contains(hour), (0...59).contains(minute), hour * 60 + minute <= 1440 else { return nil }
        return hour * 60 + minute
    }
}
