import Foundation
import HelpdeskCore

/// HTTP `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. A peer's header is
/// outside input: negative, huge, `inf` or unreadable values never trap; the wait is clamped.
public enum RetryAfter {
    /// The longest wait any peer can ask for.
    public static let ceiling: Duration = .seconds(3600)

    /// The wait the header asks for, within `0...ceiling`; `nil` when absent or unreadable.
    public static func parse(_ header: String?, now: Date = Date()) -> Duration? {
        guard let text = header?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        let seconds: Double
        if let value = Double(text), value.isFinite {
            seconds = value
        } else if let date = httpDate(text) {
            seconds = date.timeIntervalSince(now)
        } else {
            return nil
        }
        return clamp(seconds)
    }

    /// `seconds` as a wait within `0...ceiling` (non-finite values count as the ceiling).
    public static func clamp(_ seconds: Double) -> Duration {
        guard seconds.isFinite else { return ceiling }
        let bounded = min(max(seconds, 0), ceiling.seconds)
        return .milliseconds(Int64(bounded * 1000))
    }

    private static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
