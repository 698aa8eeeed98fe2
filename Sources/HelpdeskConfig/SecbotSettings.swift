import Foundation
import HelpdeskCore

/// `secbot:` — the security responder that follows the audit log (off unless `enabled`). Thresholds
/// are per principal; each detection kind and subject is reported at most once per `cooldown`.
public struct SecbotSettings: Sendable {
    public var enabled = false
    /// Where detections are posted; `nil` means `slack.default_channel`, else the web channel when it is on.
    public var channel: String?
    /// Only logs detections (and still advances its position): no incident, message or audit event.
    public var dryRun = false
    /// A detection of one kind about one subject is reported once per this long.
    public var cooldown: Duration = .seconds(15 * 60)
    /// How often the log is read for new events.
    public var pollInterval: Duration = .seconds(2)
    /// How often the whole audit chain is walked (each event read is also checked against the one before).
    public var verifyInterval: Duration = .seconds(10 * 60)
    /// Events by one principal within a sliding minute that count as `high_volume`.
    public var highVolumePerMinute = 120
    /// Denied policy decisions for one principal within `denialsWindow` that count as `repeated_denials`.
    public var denials = 5
    public var denialsWindow: Duration = .seconds(10 * 60)
    /// An approving vote sooner than this after the request opened counts as `fast_approval`.
    public var fastApproval: Duration = .seconds(10)
    /// Messages in the security channel per clock hour at most; past it detections are recorded, not posted,
    /// except critical ones (`hash_mismatch`, `unauthorized_destructive`).
    public var maxMessagesPerHour = 20

    public init() {}

    init(_ section: ConfigSection) {
        enabled = section.bool("enabled", default: enabled)
        channel = section.optionalString("channel").flatMap { $0.isEmpty ? nil : $0 }
        dryRun = section.bool("dry_run", default: dryRun)
        cooldown = section.duration("cooldown", default: cooldown, range: .zero ... .seconds(30 * 86400))
        pollInterval = section.duration("poll_interval", default: pollInterval, range: .milliseconds(100) ... .seconds(3600))
        verifyInterval = section.duration("verify_interval", default: verifyInterval, range: .seconds(1) ... .seconds(7 * 86400))
        highVolumePerMinute = section.int("high_volume_per_minute", default: highVolumePerMinute, range: 1 ... 1_000_000)
        denials = section.int("denials", default: denials, range: 1 ... 100_000)
        denialsWindow = section.duration("denials_window", default: denialsWindow, range: .seconds(1) ... .seconds(7 * 86400))
        fastApproval = section.duration("fast_approval", default: fastApproval, range: .zero ... .seconds(3600))
        maxMessagesPerHour = section.int("max_messages_per_hour", default: maxMessagesPerHour, range: 1 ... 1000)
        section.finish()
    }
}
