import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskSecurity
import HelpdeskSlack
import HelpdeskStore
import Logging

/// govbot on the one composition: the same reporter, channel and message for `helpdesk govbot` and the
/// server's schedule.
extension Composition {
    /// A reporter over this store, the policies in force and `users:`; API tokens' principals count as mapped.
    public var govbotReporter: GovbotReporter {
        GovbotReporter(store: store, policies: policies, directory: configuration.directory,
                       knownPrincipals: Set(configuration.api.tokens.map(\.principal)))
    }

    /// Where govbot posts: `govbot.channel`, else `slack.default_channel` while Slack posts, else the web
    /// channel when it is on; `nil` when there is nowhere.
    public var govbotChannel: String? {
        configuration.postingChannel(preferring: configuration.govbot.channel, slackPosts: slackAPI != nil)
    }

    /// The report as a Block Kit message body, from the `govbot_report` template.
    public func govbotMessage(_ report: GovbotReport) -> JSONValue {
        GovbotSlackView.message(report, renderer: slack.renderer)
    }

    /// The scheduled report when `govbot.schedule` is set.
    public func govbotScheduler() -> GovbotScheduler? {
        guard let schedule = configuration.govbot.schedule else { return nil }
        let channel = govbotChannel
        if channel == nil {
            logger.warning("""
                govbot.schedule is set but there is no channel to post to (no govbot.channel, no Slack default \
                channel, web channel off): reports are only recorded in the audit log and govbot.json_dir
                """)
        }
        let renderer = slack.renderer
        return GovbotScheduler(store: store, schedule: schedule, settings: configuration.govbot, reporter: govbotReporter,
                               channel: channel, render: { GovbotSlackView.message($0, renderer: renderer) }, logger: logger)
    }
}
