import Foundation

extension Duration {
    /// Parses `500ms`, `30s`, `5m`, `2h` or `1d`; a bare number means seconds.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var seconds: Double?
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            seconds = Double(trimmed.dropLast(unit.suffix.count)).map { $0 * unit.seconds }
            break
        }
        if seconds == nil, trimmed.last?.isNumber == true { seconds = Double(trimmed) }
        guard let seconds, seconds >= 0, seconds.isFinite else { return nil }
        self = .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// Seconds as a floating-point number, for `Date` arithmetic and human output.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole nanoseconds, for metrics timers.
    public var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
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
