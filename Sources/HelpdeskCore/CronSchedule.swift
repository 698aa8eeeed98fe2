import Foundation

/// A five-field cron expression, read in UTC: `minute hour day-of-month month day-of-week`. Each
/// field is `*`, a number, a range `a-b`, a step (`*/15`, `a-b/2`, `a/2` from a to the end), or a
/// comma list of those. Day of week is 0–7, both 0 and 7 Sunday. As in Vixie cron, when both day
/// fields are restricted (neither starts with `*`) a day matches when either does. No names (`MON`),
/// no `@daily`.
///
/// ```swift
/// let schedule = try CronSchedule(parsing: "0 6 * * 1-5")   // 06:00 UTC on weekdays
/// schedule.latest(atOrBefore: Date())                       // the last such slot, not in the future
/// ```
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    /// Why an expression was refused, naming the field.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// `minute`, `hour`, `day-of-month`, `month`, `day-of-week`, or `expression` for the whole.
        public var field: String
        public var message: String

        public var description: String { field == "expression" ? message : "\(field): \(message)" }
    }

    /// The expression as written (trimmed).
    public let expression: String
    let minutes: [Int]
    let hours: [Int]
    let days: Set<Int>
    let months: Set<Int>
    /// 0–6, Sunday 0.
    let weekdays: Set<Int>
    let daysRestricted: Bool
    let weekdaysRestricted: Bool

    static let fields: [(name: String, range: ClosedRange<Int>)] = [
        ("minute", 0...59), ("hour", 0...23), ("day-of-month", 1...31), ("month", 1...12), ("day-of-week", 0...7),
    ]

    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            throw ParseError(field: "expression", message: "expected 5 fields (minute hour day-of-month month day-of-week, in UTC), "
                             + "got \(parts.count) in \"\(text)\"")
        }
        var values: [Set<Int>] = []
        for (part, field) in zip(parts, Self.fields) {
            values.append(try Self.parseField(part, name: field.name, range: field.range))
        }
        expression = parts.joined(separator: " ")
        minutes = values[0].sorted(by: >)
        hours = values[1].sorted(by: >)
        days = values[2]
        months = values[3]
        weekdays = Set(values[4].map { $0 % 7 })
        daysRestricted = !parts[2].hasPrefix("*")
        weekdaysRestricted = !parts[4].hasPrefix("*")
        // `0 0 30 2 *` is valid cron that never runs: refused, so a typo does not silence a report forever.
        if daysRestricted, !weekdaysRestricted, !months.contains(where: { month in days.contains { $0 <= Self.longestMonth[month - 1] } }) {
            throw ParseError(field: "day-of-month", message: "no month listed has day \(days.sorted().map(String.init).joined(separator: ","))")
        }
    }

    public var description: String { expression }

    /// Whether `date`'s minute is a slot.
    public func matches(_ date: Date) -> Bool {
        let minute = Self.minuteFloor(date)
        let day = Self.floorDivide(minute, 1440)
        let ofDay = Int(minute - day * 1440)
        return matchesDay(day) && hours.contains(ofDay / 60) && minutes.contains(ofDay % 60)
    }

    /// The latest slot at or before `date` (to the minute); `nil` when none in the 28 years before it.
    public func latest(atOrBefore date: Date) -> Date? {
        let minute = Self.minuteFloor(date)
        let today = Self.floorDivide(minute, 1440)
        var limit = Int(minute - today * 1440)
        // 28 years: every weekday falls on every date of a leap year within them.
        for back in 0..<Int64(28 * 366) {
            let day = today - back
            if back > 0 { limit = 1439 }
            guard matchesDay(day) else { continue }
            for hour in hours where hour * 60 <= limit {
                if let minute = minutes.first(where: { hour * 60 + $0 <= limit }) {
                    return Date(timeIntervalSince1970: TimeInterval((day * 1440 + Int64(hour * 60 + minute)) * 60))
                }
            }
        }
        return nil
    }

    /// The first slot strictly after `date`; `nil` when none in the next 28 years.
    public func next(after date: Date) -> Date? {
        let minute = Self.minuteFloor(date) + 1
        let today = Self.floorDivide(minute, 1440)
        var start = Int(minute - today * 1440)
        for ahead in 0..<Int64(28 * 366) {
            let day = today + ahead
            if ahead > 0 { start = 0 }
            guard matchesDay(day) else { continue }
            for hour in hours.reversed() where hour * 60 + 59 >= start {
                if let minute = minutes.reversed().first(where: { hour * 60 + $0 >= start }) {
                    return Date(timeIntervalSince1970: TimeInterval((day * 1440 + Int64(hour * 60 + minute)) * 60))
                }
            }
        }
        return nil
    }

    /// Days since 1970-01-01 (UTC), checked against month, day of month and day of week.
    func matchesDay(_ day: Int64) -> Bool {
        let (_, month, dayOfMonth) = Self.civil(fromDays: day)
        guard months.contains(month) else { return false }
        let weekday = Int(((day % 7) + 7 + 4) % 7)  // 1970-01-01 was a Thursday
        let dayMatches = days.contains(dayOfMonth)
        let weekdayMatches = weekdays.contains(weekday)
        if daysRestricted, weekdaysRestricted { return dayMatches || weekdayMatches }
        return dayMatches && weekdayMatches
    }

    static let longestMonth = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

    static func parseField(_ text: String, name: String, range: ClosedRange<Int>) throws(ParseError) -> Set<Int> {
        var values: Set<Int> = []
        let expected = "expected *, a number, a range a-b, a step such as */15 or a-b/2, or a comma list of those"
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let pieces = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else {
                    throw ParseError(field: name, message: "the step in \"\(item)\" must be a whole number above 0")
                }
                step = parsed
            }
            let span: ClosedRange<Int>
            if pieces[0] == "*" {
                span = range
            } else if let single = Int(pieces[0]) {
                // `a/n` runs from a to the end of the field, as Vixie cron reads it.
                span = single...(pieces.count == 2 ? range.upperBound : single)
            } else {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
                guard bounds.count == 2, let low = bounds[0], let high = bounds[1] else {
                    throw ParseError(field: name, message: "\(expected); got \"\(item)\"")
                }
                guard low <= high else { throw ParseError(field: name, message: "the range \(low)-\(high) runs backwards") }
                span = low...high
            }
            guard range.contains(span.lowerBound), range.contains(span.upperBound) else {
                throw ParseError(field: name, message: "\"\(item)\" is outside \(range.lowerBound)-\(range.upperBound)")
            }
            values.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return values
    }

    static func minuteFloor(_ date: Date) -> Int64 {
        floorDivide(Int64(date.timeIntervalSince1970.rounded(.down)), 60)
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }

    /// Year, month (1–12) and day (1–31) of a day counted from 1970-01-01, proleptic Gregorian (Hinnant's algorithm).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
