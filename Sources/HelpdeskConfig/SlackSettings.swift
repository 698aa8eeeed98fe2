import Foundation
import HelpdeskCore

/// `slack:` — the Slack app this server answers for.
public struct SlackSettings: Sendable {
    /// The signing secret Slack used before a rotation, accepted until `until` so requests signed
    /// with it keep passing while the new secret is put in place.
    public struct PreviousSigningSecret: Sendable {
        public var secret: Secret
        public var until: Date

        public init(secret: Secret, until: Date) {
            self.secret = secret
            self.until = until
        }
    }

    /// From `SLACK_SIGNING_SECRET` or `slack.signing_secret_file`.
    public var signingSecret: Secret?
    /// From `SLACK_PREVIOUS_SIGNING_SECRET` or `slack.previous_signing_secret_file`, with
    /// `slack.previous_signing_secret_until` (RFC 3339).
    public var previousSigningSecret: PreviousSigningSecret?
    /// From `SLACK_BOT_TOKEN` or `slack.bot_token_file`.
    public var botToken: Secret?
    /// Web API base; tests point it at a loopback recorder.
    public var apiBaseURL = URL(string: "https://slack.com/api/")!
    /// The slash command this app registers.
    public var command = "/helpdesk"
    public var defaultChannel: String?
    /// A folder of Block Kit templates (Mustache) that override the built-in ones file by file;
    /// `nil`: only the built-in ones.
    public var templatesDirectory: String?
    /// Messages (posts and edits) a minute the bot sends to one channel, whatever happens; the rest wait.
    public var channelMessagesPerMinute = 20

    public init() {}

    init(_ section: ConfigSection) {
        templatesDirectory = section.folder("templates_dir", overriding: "the built-in Slack templates file by file")
        signingSecret = section.secret("signing_secret", environment: "SLACK_SIGNING_SECRET")
        previousSigningSecret = Self.previous(section, hasCurrent: signingSecret != nil)
        botToken = section.secret("bot_token", environment: "SLACK_BOT_TOKEN")
        apiBaseURL = section.url("api_base_url", schemes: ["http", "https"]) ?? apiBaseURL
        command = section.string("command", default: command)
        if !command.hasPrefix("/") || command.count < 2 || command.contains(" ") {
            section.report("command", "expected a slash command such as /helpdesk, got \"\(command)\"")
        }
        defaultChannel = section.optionalString("default_channel")
        channelMessagesPerMinute = section.int("channel_messages_per_minute", default: channelMessagesPerMinute, range: 1...600)
        section.finish()
    }

    /// The rotation window: both the previous secret and its end are required, or neither.
    private static func previous(_ section: ConfigSection, hasCurrent: Bool) -> PreviousSigningSecret? {
        let secret = section.secret("previous_signing_secret", environment: "SLACK_PREVIOUS_SIGNING_SECRET")
        let untilText = section.optionalString("previous_signing_secret_until")
        let until = untilText.flatMap(parseRFC3339)
        if let untilText, until == nil {
            section.report("previous_signing_secret_until", "expected an RFC 3339 time such as 2026-03-01T12:00:00Z, got \"\(untilText)\"")
            return nil
        }
        switch (secret, until) {
        case (let secret?, let until?):
            guard hasCurrent else {
                section.report("previous_signing_secret_until", "a previous signing secret needs the current one: set SLACK_SIGNING_SECRET " +
                               "or slack.signing_secret_file")
                return nil
            }
            return PreviousSigningSecret(secret: secret, until: until)
        case (_?, nil):
            section.reportSection("SLACK_PREVIOUS_SIGNING_SECRET (or previous_signing_secret_file) is set without " +
                                  "slack.previous_signing_secret_until: set the RFC 3339 time after which the old secret is refused")
            return nil
        case (nil, _?):
            section.report("previous_signing_secret_until", "no previous signing secret resolves: set SLACK_PREVIOUS_SIGNING_SECRET or " +
                           "slack.previous_signing_secret_file, or remove previous_signing_secret_until once the rotation is over")
            return nil
        case (nil, nil):
            return nil
        }
    }
}

/// An RFC 3339 date-time (`2026-03-01T12:00:00Z`, `…+01:00`, optional fractional seconds).
func parseRFC3339(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    let normalized = text.uppercased()
    if let date = formatter.date(from: normalized) { return date }
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: normalized)
}
