import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskAgents
import HelpdeskAlerts
import HelpdeskGovernance
import HelpdeskHTTPClient
import HelpdeskJobs
import HelpdeskMail
import HelpdeskSlack
import HelpdeskOrchestrator
import HelpdeskStore
import Hummingbird
import Logging
import Mustache
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Why `helpdesk serve` could not start or keep running, in words for the operator.
public enum ServerError: Error, CustomStringConvertible {
    case cannotListen(ListenAddress, reason: String)
    case invalidRunbooks(RunbookLoader.LoadError)
    case invalidPolicies(PolicyLoadErrors)
    case invalidTLS(file: String, reason: String)

    public var description: String {
        switch self {
        case .cannotListen(let address, let reason): "cannot listen on \(address): \(reason)"
        case .invalidRunbooks(let error): "\(error)"
        case .invalidPolicies(let errors): errors.description
        case .invalidTLS(let file, let reason): "cannot load the TLS certificate and key (\(file)): \(reason)"
        }
    }
}

/// The `helpdesk serve` process: the store, the job worker and the HTTP server in one service group.
public enum HelpdeskServer {
    /// The job handlers this build knows.
    public static func jobHandlers(governance: Governance? = nil, slack: SlackCommandContext? = nil, srebot: SrebotContext? = nil,
                                   uploads: SlackBundleUploadJob? = nil, mail: MailSendJob? = nil) -> [String: any JobHandler] {
        var handlers: [String: any JobHandler] = [SelftestJob.kind: SelftestJob(), SlackResponseJob.kind: SlackResponseJob(transport: AsyncHTTPTransport())]
        if let mail { handlers[MailSendJob.kind] = mail }
        if let uploads { handlers[SlackBundleUploadJob.kind] = uploads }
        if let srebot {
            handlers[SrebotAlertJob.kind] = SrebotAlertJob(context: srebot)
            handlers[SrebotResolvedJob.kind] = SrebotResolvedJob(context: srebot)
        }
        if let governance { handlers[Governance.executeJobKind] = ApprovalExecutionJob(governance: governance) }
        if let slack {
            handlers[SlackCommandJob.kind] = SlackCommandJob(context: slack)
            handlers[SlackInteractionJob.kind] = SlackInteractionJob(context: slack)
        }
        return handlers
    }

    /// The Block Kit templates, when Slack is configured at all (a signing secret or a bot token).
    static func slackRenderer(_ configuration: HelpdeskConfiguration, logger: Logger) async -> SlackRenderer? {
        guard configuration.slack.signingSecret != nil || configuration.slack.botToken != nil else {
            logger.info("Slack is off (neither SLACK_SIGNING_SECRET nor SLACK_BOT_TOKEN is set)")
            return nil
        }
        do {
            return try await SlackRenderer(directory: configuration.slack.templatesDirectory)
        } catch {
            logger.error("Slack templates cannot be loaded; Slack stays off", metadata: [
                "templates_dir": "\(configuration.slack.templatesDirectory)", "error": "\(error)"])
            return nil
        }
    }

    /// The policies in force at start: the folder must load; a missing one means nothing is allowed.
    public static func loadPolicies(_ configuration: HelpdeskConfiguration, logger: Logger) throws(ServerError) -> PolicySet {
        guard FileManager.default.fileExists(atPath: configuration.policies.directory) else {
            logger.warning("no policy folder: every action is denied until one exists", metadata: ["policies_dir": "\(configuration.policies.directory)"])
            return PolicySet(PolicyEngine(policies: []))
        }
        do {
            return PolicySet(PolicyEngine(policies: try PolicyLoader.load(configuration.policies.directory)))
        } catch {
            throw .invalidPolicies(error)
        }
    }

    /// Reply-To addresses for approval emails, when `smtp.reply_domain` and the link key are set.
    public static func replyAddresses(_ configuration: HelpdeskConfiguration) -> ApprovalReplyAddress? {
        guard let key = configuration.approvals.linkKey, let domain = configuration.smtp.replyDomain else { return nil }
        return ApprovalReplyAddress(key: key, domain: domain)
    }

    /// Reads approval replies (the webhook and `helpdesk mail-ingest`), when replies are configured.
    public static func mailReplies(_ configuration: HelpdeskConfiguration, governance: Governance, store: any Store) -> MailReplyProcessor? {
        replyAddresses(configuration).map {
            MailReplyProcessor(governance: governance, store: store, addresses: $0, directory: configuration.directory,
                               authservID: configuration.smtp.inboundAuthservID, inbound: configuration.inboundEmail)
        }
    }

    /// The gate over the agents, with policies, approvals and the audit log.
    public static func makeGovernance(_ configuration: HelpdeskConfiguration, policies: PolicySet, store: any Store, agents: [any Agent],
                                      redactor: Redactor, notifiers: [any ApprovalNotifier] = [], logger: Logger) -> Governance {
        Governance(policies: policies, store: store, agents: agents, inventory: configuration.infrastructure, directory: configuration.directory,
                   redactor: redactor, defaultTTL: configuration.approvals.defaultTTL, toolTimeout: configuration.diagnosis.toolTimeout,
                   notifiers: notifiers, logger: logger)
    }

    public static func workerOptions(_ configuration: HelpdeskConfiguration) -> JobWorker.Options {
        let jobs = configuration.jobs
        return JobWorker.Options(
            concurrency: jobs.concurrency, lease: jobs.lease, pollInterval: jobs.pollInterval, timeout: jobs.timeout,
            retry: RetryPolicy(base: jobs.backoffBase, max: jobs.backoffMax), shutdownGrace: configuration.server.shutdownGrace)
    }

    /// Opens the store, starts the worker and the HTTP server, and returns after a graceful shutdown
    /// (SIGTERM or SIGINT) with the store closed.
    public static func run(configuration: HelpdeskConfiguration, store: any Store, registry: PrometheusCollectorRegistry,
                           redactor: Redactor, environment: [String: String], logger: Logger) async throws {
        let agents = DiagnosisEngine.makeAgents(configuration, environment: environment, logger: logger)
        let policies: PolicySet
        do {
            policies = try loadPolicies(configuration, logger: logger)
        } catch {
            try? await store.close()
            throw error
        }
        let renderer = await slackRenderer(configuration, logger: logger)
        var notifiers: [any ApprovalNotifier] = []
        var outbox: SlackOutboxService?
        var uploads: SlackBundleUploadJob?
        if let renderer, let token = configuration.slack.botToken {
            let api = SlackWebAPI(baseURL: configuration.slack.apiBaseURL, token: token)
            outbox = SlackOutboxService(store: store, api: api, logger: logger)
            uploads = SlackBundleUploadJob(api: api, store: store)
            if let channel = configuration.slack.defaultChannel {
                notifiers.append(SlackApprovalNotifier(channel: channel, renderer: renderer))
            } else {
                logger.warning("slack.default_channel is not set: approval requests are not posted to a channel")
            }
        }
        var mail: MailSendJob?
        if let smtpURL = configuration.smtp.url, let from = configuration.smtp.from {
            mail = MailSendJob(mailer: SMTPMailer(settings: configuration.smtp))
            if let key = configuration.approvals.linkKey, let base = configuration.server.publicBaseURL {
                do {
                    let templates = try await MustacheLibrary(directory: configuration.smtp.templatesDirectory)
                    notifiers.append(EmailApprovalNotifier(links: ApprovalLinks(key: key), baseURL: base, from: from,
                                                           directory: configuration.directory, templates: templates,
                                                           replies: replyAddresses(configuration)))
                } catch {
                    logger.error("email templates cannot be loaded; approval emails are off",
                                 metadata: ["templates_dir": "\(configuration.smtp.templatesDirectory)", "error": "\(error)"])
                }
            } else {
                logger.warning("approval emails need approvals.link_key and server.public_base_url; not sending them", metadata: ["smtp": "\(smtpURL.host ?? "")"])
            }
        }
        let governance = makeGovernance(configuration, policies: policies, store: store, agents: agents, redactor: redactor,
                                        notifiers: notifiers, logger: logger)
        let engine: DiagnosisEngine
        do {
            // A model is offered only the tools policy would not refuse outright for the alert bot.
            engine = try DiagnosisEngine(configuration: configuration, agents: agents, store: store, logger: logger) { tool, target in
                let probe = ToolCall(tool: tool.name, target: target)
                return (try? governance.decide(probe, by: Principal(id: "srebot", kind: .service)).0.effect) != .deny
            }
        } catch {
            try? await store.close()
            throw ServerError.invalidRunbooks(error)
        }
        let slack = configuration.slack.signingSecret == nil ? nil : renderer.map { renderer in
            SlackCommandContext(orchestrator: engine.orchestrator, governance: governance, store: store, directory: configuration.directory,
                                renderer: renderer, commandName: configuration.slack.command, clusters: configuration.infrastructure.k8sClusters.map(\.id))
        }
        let srebot = SrebotContext(orchestrator: engine.orchestrator, inventory: configuration.infrastructure, renderer: renderer,
                                   slackEnabled: outbox != nil, store: store, cooldown: configuration.alertmanager.cooldown,
                                   maxConcurrentDiagnoses: configuration.alertmanager.maxConcurrentDiagnoses,
                                   targetLabels: configuration.alertmanager.targetLabels)
        let worker = JobWorker(
            queue: store.jobs, handlers: jobHandlers(governance: governance, slack: slack, srebot: srebot, uploads: uploads, mail: mail), options: workerOptions(configuration),
            logger: logger, redactor: redactor, metrics: PrometheusMetricsFactory(registry: registry))
        var dependencies = ServerDependencies(
            settings: configuration.server, store: store, workerIsRunning: { worker.isRunning },
            registry: registry, logger: logger)
        dependencies.engine = engine
        dependencies.governance = governance
        dependencies.slack = slack
        dependencies.slackSigningSecret = configuration.slack.signingSecret
        dependencies.alertmanager = configuration.alertmanager
        dependencies.defaultChannel = configuration.slack.defaultChannel
        dependencies.srebot = srebot
        dependencies.mailReplies = mailReplies(configuration, governance: governance, store: store)
        if let key = configuration.approvals.linkKey {
            dependencies.approvalLinks = ApprovalLinks(key: key)
            do {
                dependencies.approvalPages = try await MustacheLibrary(directory: configuration.approvals.pagesDirectory)
            } catch {
                logger.error("approval page templates cannot be loaded; the page falls back to plain text",
                             metadata: ["pages_dir": "\(configuration.approvals.pagesDirectory)", "error": "\(error)"])
            }
        }
        dependencies.api = configuration.api
        dependencies.toolTimeout = configuration.diagnosis.toolTimeout
        let listeners: [any Service]
        var reloader: TLSCertificateReloader?
        do {
            (listeners, reloader) = try httpListeners(configuration.server, dependencies: dependencies, logger: logger)
        } catch {
            try? await store.close()
            throw error
        }
        // Shut down in reverse: stop taking requests first, then let the worker finish its jobs.
        let metrics = PrometheusMetricsFactory(registry: registry)
        let group = ServiceGroup(
            services: [
                PolicyWatcher(path: configuration.policies.directory, policies: policies, logger: logger, metrics: metrics),
                ApprovalExpiryService(store: store, notifiers: notifiers, logger: logger),
            ] + (reloader.map { [$0] } ?? []) + (outbox.map { [$0] } ?? []) + [worker] + listeners,
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        logger.info("stopped; store closed")
    }
}

extension HelpdeskServer {
    /// The public listener, and the admin one when `server.admin_listen` is set; TLS on both when
    /// configured, with the reloader that swaps the certificate when its files change.
    static func httpListeners(_ settings: ServerSettings, dependencies: ServerDependencies,
                              logger: Logger) throws(ServerError) -> ([any Service], TLSCertificateReloader?) {
        var tls: TLSContextBox?
        var reloader: TLSCertificateReloader?
        if let certificate = settings.tlsCertificateFile, let key = settings.tlsKeyFile {
            do {
                let box = TLSContextBox(try TLSCertificateReloader.load(certificateFile: certificate, keyFile: key))
                tls = box
                reloader = TLSCertificateReloader(certificateFile: certificate, keyFile: key, box: box, interval: .seconds(2), logger: logger)
            } catch {
                throw .invalidTLS(file: certificate, reason: "\(error)")
            }
        }
        guard let admin = settings.adminListen else {
            return ([HTTPService(application: buildApplication(dependencies, tls: tls), address: settings.listen)], reloader)
        }
        return ([
            HTTPService(application: buildApplication(dependencies, surface: .edge, tls: tls), address: settings.listen),
            HTTPService(application: buildApplication(dependencies, surface: .admin, address: admin, tls: tls), address: admin),
        ], reloader)
    }
}

/// Runs the HTTP application, turning a failed bind into ``ServerError/cannotListen(_:reason:)``.
struct HTTPService<App: ApplicationProtocol>: Service {
    let application: App
    let address: ListenAddress

    func run() async throws {
        do {
            try await application.run()
        } catch let error as IOError {
            throw ServerError.cannotListen(address, reason: String(cString: strerror(error.errnoCode)))
        }
    }
}
