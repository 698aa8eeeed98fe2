import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskSecurity
import HelpdeskSlack
import HelpdeskStore
import Logging
import ServiceLifecycle
import UnixSignals

extension Composition {
    /// secbot over this composition's store, for `serve` (when `secbot.enabled`) and `helpdesk secbot`.
    ///
    /// Its messages go to `secbot.channel`, else to `slack.default_channel` while Slack posts, else to the
    /// web channel when it is on (as approval requests do); bundles are kept where diagnoses keep theirs.
    /// - Parameters:
    ///   - dryRun: `true` forces dry-run (`helpdesk secbot --dry-run`); `false` keeps `secbot.dry_run`.
    ///   - preview: reads from secbot's mark and writes nothing, not even the mark (`--once --dry-run`).
    public func secbotService(dryRun: Bool = false, preview: Bool = false) throws(ServerError) -> SecbotService {
        var settings = configuration.secbot
        if dryRun || preview { settings.dryRun = true }
        let renderer = slack.renderer
        let channel = configuration.postingChannel(preferring: settings.channel, slackPosts: slackAPI != nil)
        if channel == nil, !settings.dryRun {
            logger.warning("secbot has no channel to post to (set secbot.channel): detections are incidents and audit events only")
        }
        let bundles = configuration.store.driver == .postgres ? nil : configuration.diagnosis.bundlesDirectory
        let options = SecbotOptions(settings: settings, channel: channel, bundleDirectory: bundles, preview: preview)
        return SecbotService(store: store, directory: configuration.directory, options: options, redactor: redactor,
                             logger: logger) { view in
            SlackViews.webAPIBody(renderer.render("security_detection", view.context,
                                                  fallbackText: "secbot: \(view.kind) — \(view.subject): \(view.summary)"))
        }
    }
}

extension SecbotService {
    /// Runs secbot alone until SIGTERM or SIGINT (`helpdesk secbot` without `--once`).
    public func runUntilSignalled(logger: Logger) async throws {
        try await ServiceGroup(services: [self], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    }
}
