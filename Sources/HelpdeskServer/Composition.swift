import Foundation
import HelpdeskAgents
import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskHTTPClient
import HelpdeskJobs
import HelpdeskMail
import HelpdeskSlack
import HelpdeskStore
import HelpdeskWeb
import Logging
import Mustache
import Prometheus

/// Everything the process runs on, wired once from a configuration: `helpdesk serve`, every
/// command and the tests build it here, so a vote from the command line notifies Slack and email
/// exactly as one from the server does, and a diagnosis from any door passes the same gate.
public struct Composition: Sendable {
    public let configuration: HelpdeskConfiguration
    /// The templates, runbooks and policies in force: built in, with the configured folders on top.
    public let content: ContentLibrary
    public let store: any Store
    public let redactor: Redactor
    public let logger: Logger
    public let policies: PolicySet
    /// The gate: policies, approvals, the audit log, and the only holder of the agents.
    public let governance: Governance
    public let engine: DiagnosisEngine
    public let notifiers: [any ApprovalNotifier]
    /// The Web API when a bot token is set (the outbox and uploads deliver through it).
    public let slackAPI: SlackWebAPI?
    public let slack: SlackCommandContext
    public let srebot: SrebotContext
    public let mail: MailSendJob?
    public let mailReplies: MailReplyProcessor?
    public let approvalLinks: ApprovalLinks?
    public let approvalPages: MustacheLibrary?
    /// Makes the bodies of messages rendered from stored state (a storm's digest and summary), for
    /// Slack when they are sent and for the web channel when they are shown.
    public let renderStored: @Sendable (RenderedBody) async throws -> JSONValue?
    /// The web channel's pages and sign-in, when `web.enabled`.
    public let web: WebDependencies?

    /// Builds the whole graph. Throws for what must stop a start: any template, runbook or policy in
    /// force that does not load (``ServerError/invalidContent(_:)``, every problem at once). A part
    /// that is not configured (Slack, email, approval pages) stays off, as before.
    public static func build(_ configuration: HelpdeskConfiguration, store: any Store, redactor: Redactor,
                             environment: [String: String], logger: Logger,
                             now: @escaping @Sendable () -> Date = { Date() }) async throws(ServerError) -> Composition {
        let content = ContentLibrary(configuration)
        let check = ContentCheck(content)
        guard check.problems.isEmpty else { throw .invalidContent(check.problems) }
        for entry in check.skipped {
            logger.warning("not a regular file; not read",
                           metadata: ["path": "\(entry.path)", "reason": "\(entry.reason)"])
        }
        let agents = DiagnosisEngine.makeAgents(configuration, environment: environment, logger: logger)
        let policies = try HelpdeskServer.loadPolicies(content, logger: logger)
        let renderer = try HelpdeskServer.slackRenderer(configuration, content: content, logger: logger)
        let slackAPI = configuration.slack.botToken.map { SlackWebAPI(baseURL: configuration.slack.apiBaseURL, token: $0) }
        var notifiers: [any ApprovalNotifier] = []
        // Approval requests go to Slack's default channel while Slack posts, else to the web channel when it is on.
        if slackAPI != nil, configuration.slack.defaultChannel == nil {
            logger.warning(configuration.web.enabled
                ? "slack.default_channel is not set: approval requests are posted to the web channel only"
                : "slack.default_channel is not set: approval requests are not posted to a channel")
        }
        if let channel = configuration.postingChannel(slackPosts: slackAPI != nil) {
            notifiers.append(SlackApprovalNotifier(channel: channel, renderer: renderer))
        }
        let mail = configuration.smtp.url != nil && configuration.smtp.from != nil ? MailSendJob(mailer: SMTPMailer(settings: configuration.smtp)) : nil
        if let notifier = try emailNotifier(configuration, content: content, logger: logger) { notifiers.append(notifier) }
        let governance = Governance(
            policies: policies, store: store, agents: agents, inventory: configuration.infrastructure, directory: configuration.directory,
            redactor: redactor, defaultTTL: configuration.approvals.defaultTTL, toolTimeout: configuration.diagnosis.toolTimeout,
            notifiers: notifiers, executeWithin: configuration.approvals.executeWithin, now: now, logger: logger)
        let engine: DiagnosisEngine
        do {
            engine = try DiagnosisEngine(configuration: configuration, content: content, gate: governance, agents: agents,
                                         store: store, logger: logger)
        } catch {
            throw .invalidRunbooks(error)
        }
        // Commands have one grammar and one answer, whether typed in Slack or in the web channel's box.
        let slack = SlackCommandContext(orchestrator: engine.orchestrator, governance: governance, store: store, directory: configuration.directory,
                                        renderer: renderer, commandName: configuration.slack.command,
                                        clusters: configuration.infrastructure.k8sClusters.map(\.id))
        let srebot = SrebotContext(orchestrator: engine.orchestrator, inventory: configuration.infrastructure, renderer: renderer,
                                   slackEnabled: slackAPI != nil, webChannel: configuration.web.enabled, store: store,
                                   cooldown: configuration.alertmanager.cooldown,
                                   maxConcurrentDiagnoses: configuration.alertmanager.maxConcurrentDiagnoses,
                                   targetLabels: configuration.alertmanager.targetLabels)
        var links: ApprovalLinks?
        var pages: MustacheLibrary?
        if let keys = ApprovalKeyRing(configuration.approvals) {
            links = ApprovalLinks(keys: keys)
            do {
                pages = try MustacheLibrary(templates: content.files(.webPages))
            } catch {
                throw .invalidContent([ContentProblem(error)])
            }
        }
        let renderStored = StormMessages(store: store, renderer: renderer).render
        let web = try webDependencies(configuration, content: content, renderStored: renderStored)
        return Composition(
            configuration: configuration, content: content, store: store, redactor: redactor, logger: logger, policies: policies, governance: governance,
            engine: engine, notifiers: notifiers, slackAPI: slackAPI, slack: slack, srebot: srebot, mail: mail,
            mailReplies: HelpdeskServer.mailReplies(configuration, governance: governance, store: store),
            approvalLinks: links, approvalPages: pages, renderStored: renderStored, web: web)
    }

    /// Approval emails, when SMTP, the link key and the public URL are all set.
    private static func emailNotifier(_ configuration: HelpdeskConfiguration, content: ContentLibrary,
                                      logger: Logger) throws(ServerError) -> EmailApprovalNotifier? {
        guard let smtpURL = configuration.smtp.url, let from = configuration.smtp.from else { return nil }
        guard let keys = ApprovalKeyRing(configuration.approvals), let base = configuration.server.publicBaseURL else {
            logger.warning("approval emails need approvals.link_key and server.public_base_url; not sending them",
                           metadata: ["smtp": "\(smtpURL.host ?? "")"])
            return nil
        }
        do {
            let templates = try MustacheLibrary(templates: content.files(.emailTemplates))
            return EmailApprovalNotifier(links: ApprovalLinks(keys: keys), baseURL: base, from: from, directory: configuration.directory,
                                         templates: templates, replies: HelpdeskServer.replyAddresses(configuration))
        } catch {
            throw .invalidContent([ContentProblem(error)])
        }
    }

    /// The web channel's pages, assets and sign-in parts; `nil` when `web.enabled` is false.
    static func webDependencies(_ configuration: HelpdeskConfiguration, content: ContentLibrary,
                                renderStored: @escaping @Sendable (RenderedBody) async throws -> JSONValue?) throws(ServerError) -> WebDependencies? {
        guard configuration.web.enabled else { return nil }
        let pages: WebPages
        // The script and the stylesheet are served as they are, read once: from a configured folder, else as shipped.
        var assets: [WebAsset: String] = [:]
        do {
            pages = try WebPages(content)
            for asset in WebAsset.allCases { assets[asset] = try content.webAsset(asset).text }
        } catch {
            throw .invalidContent([ContentProblem(error)])
        }
        // HelpdeskWeb: the sign-in parts, made from the `web:` settings and the users directory.
        let settings = configuration.web
        return WebDependencies(settings: settings, sessions: WebSessions(settings: settings),
                               throttle: LoginThrottle(failuresPerMinute: settings.loginFailuresPerMinute),
                               passwords: PasswordCheck(directory: configuration.directory), pages: pages, assets: assets,
                               renderStored: renderStored)
    }

    /// Every job this process can run.
    public var jobHandlers: [String: any JobHandler] {
        var handlers: [String: any JobHandler] = [
            SelftestJob.kind: SelftestJob(), SlackResponseJob.kind: SlackResponseJob(transport: AsyncHTTPTransport()),
            SrebotAlertJob.kind: SrebotAlertJob(context: srebot), SrebotResolvedJob.kind: SrebotResolvedJob(context: srebot),
            Governance.executeJobKind: ApprovalExecutionJob(governance: governance),
        ]
        if let mail { handlers[MailSendJob.kind] = mail }
        if let slackAPI { handlers[SlackBundleUploadJob.kind] = SlackBundleUploadJob(api: slackAPI, store: store) }
        // Always (the command context is built in): a job queued by a replica with Slack or the web
        // channel on runs on any replica.
        handlers[SlackCommandJob.kind] = SlackCommandJob(context: slack)
        handlers[SlackInteractionJob.kind] = SlackInteractionJob(context: slack)
        handlers[WebCommandJob.kind] = WebCommandJob(context: slack)
        handlers[WebActionJob.kind] = WebActionJob(context: slack)
        return handlers
    }

    /// What the HTTP routes need.
    public func serverDependencies(registry: PrometheusCollectorRegistry, workerIsRunning: @escaping @Sendable () -> Bool) -> ServerDependencies {
        var dependencies = ServerDependencies(settings: configuration.server, store: store, workerIsRunning: workerIsRunning,
                                              registry: registry, logger: logger)
        dependencies.engine = engine
        dependencies.governance = governance
        dependencies.slack = slack
        dependencies.slackSigningSecret = configuration.slack.signingSecret
        dependencies.slackPreviousSigningSecret = configuration.slack.previousSigningSecret
        dependencies.alertmanager = configuration.alertmanager
        dependencies.defaultChannel = configuration.slack.defaultChannel
        dependencies.srebot = srebot
        dependencies.mailReplies = mailReplies
        dependencies.approvalLinks = approvalLinks
        dependencies.approvalPages = approvalPages
        dependencies.api = configuration.api
        dependencies.directory = configuration.directory
        dependencies.redactor = redactor
        dependencies.web = web
        dependencies.tracing = configuration.tracing
        return dependencies
    }
}
