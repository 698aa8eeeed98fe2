import HelpdeskConfig
import HelpdeskStore

extension HelpdeskConfiguration {
    /// Where the bot posts what has no channel of its own: `preferred` (a bot's own `channel`), else
    /// `slack.default_channel` while Slack posts, else the web channel when it is on; `nil` when there is
    /// nowhere. Approval requests, secbot and govbot choose the same way.
    public func postingChannel(preferring preferred: String? = nil, slackPosts: Bool) -> String? {
        if let preferred { return preferred }
        if slackPosts, let channel = slack.defaultChannel { return channel }
        return web.enabled ? OutboxMessage.webChannel : nil
    }
}
