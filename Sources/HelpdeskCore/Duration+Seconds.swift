import Foundation

extension Duration {
    /// The longest duration ``init(parsing:)`` accepts: 3650 days, ten years. Anything longer in a
    /// configuration, policy or runbook is a mistake, and past about 292 years it would not fit
    /// in the Int64 milliseconds and nanoseconds this code converts to.
    public static let longestParsed: Duration = .seconds(3650 * 86400)

    /// Parses `500ms`, `30s`, `5m`, `2h` or `1d`; a bare number means seconds. `nil` for text that
    /// is not a duration, a negative or non-finite one, or one longer than ``longestParsed``.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var seconds: Double?
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            seconds = Double(trimmed.dropLast(unit.suffix.count)).map { $0 * unit.seconds }
            break
        }
        if seconds == nil, trimmed.last?.isNumber == true { seconds = Double(trimmed) }
        guard let seconds, seconds.isFinite, seconds >= 0, seconds <= Self.longestParsed.seconds else { return nil }
        self = .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// Seconds as a floating-point number, for `Date` arithmetic and human output.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole nanoseconds, for metrics timers; clamped to Int64's range (about ±292 years) rather
    /// than trapping on a longer duration.
    public var nanoseconds: Int64 {
        let (whole, overflow) = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return components.seconds < 0 ? .min : .max }
        let (total, overflowAdding) = whole.addingReportingOverflow(components.attoseconds / 1_000_000_000)
        if overflowAdding { return whole < 0 ? .min : .max }
        return total
    }

    /// The shortest exact spelling in the units `Duration(parsing:)` reads: `90s`, `5m`, `250ms`.
    public var compactText: String {
        let milliseconds = nanoseconds / 1_000_000
        if milliseconds % 86_400_000 == 0, milliseconds > 0 { return "\(milliseconds / 86_400_000)d" }
        if milliseconds % 3_600_000 == 0, milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0, milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}
