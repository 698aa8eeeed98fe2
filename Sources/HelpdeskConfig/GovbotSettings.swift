import Foundation
import HelpdeskCore

/// `govbot:` — the compliance report the server posts on a schedule (`helpdesk govbot` makes one on
/// demand with the same settings).
public struct GovbotSettings: Sendable {
    /// When the server reports: a five-field cron expression in UTC (`0 6 * * *`); `nil`, the
    /// default, runs no scheduled report.
    public var schedule: CronSchedule?
    /// How far back a scheduled report looks from its slot.
    public var window: Duration = .seconds(24 * 3600)
    /// Where the report is posted: a Slack channel id; `nil` means `slack.default_channel` while Slack
    /// posts, else the web channel.
    public var channel: String?
    /// A folder for each scheduled report's JSON (`govbot-<UTC stamp>.json`, owner-only); `nil`: none written.
    public var jsonDirectory: String?

    public init() {}

    init(_ section: ConfigSection) {
        if let text = section.optionalString("schedule"), !text.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                schedule = try CronSchedule(parsing: text)
            } catch {
                section.report("schedule", "\(error) (five fields in UTC, such as \"0 6 * * *\" for 06:00 every day)")
            }
        }
        window = section.duration("window", default: window, range: .seconds(60) ... .seconds(366 * 86400))
        channel = section.optionalString("channel").flatMap { $0.isEmpty ? nil : $0 }
        jsonDirectory = section.optionalString("json_dir").flatMap { $0.isEmpty ? nil : $0 }
        section.finish()
    }
}
