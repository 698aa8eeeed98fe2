import Foundation
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskAgents
import HelpdeskAlerts
import HelpdeskGovernance
import HelpdeskHTTPClient
import HelpdeskJobs
import HelpdeskMail
import HelpdeskSecurity
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
    /// Templates, runbooks or policies in force that do not load, each with its file.
    case invalidContent([ContentProblem])
    case invalidRunbooks(RunbookLoader.LoadError)
    case invalidPolicies(PolicyLoadErrors)
    case invalidTLS(file: String, reason: String)

    public var description: String {
        switch self {
        case .cannotListen(let address, let reason): "cannot listen on \(address): \(reason)"
        case .invalidContent(let problems): problems.map(\.description).joined(separator: "\n")
        case .invalidRunbooks(let error): "\(error)"
        case .invalidPolicies(let errors): errors.description
        case .invalidTLS(let file, let reason): "cannot load the TLS certificate and key (\(file)): \(reason)"
        }
    }
}

/// The `helpdesk serve` process: the store, the job worker and the HTTP server in one service group.
public enum HelpdeskServer {
    /// The Block Kit templates: every message the bot posts is Block Kit, in Slack and in the web
    /// channel alike. Templates that do not parse stop the start: ``ContentCheck`` found them first,
    /// so this only fires when a file changed in between.
    static func slackRenderer(_ configuration: HelpdeskConfiguration, content: ContentLibrary,
                              logger: Logger) throws(ServerError) -> SlackRenderer {
        if configuration.slack.signingSecret == nil && configuration.slack.botToken == nil {
            logger.info("Slack is off (neither SLACK_SIGNING_SECRET nor SLACK_BOT_TOKEN is set)")
        }
        do {
            return try SlackRenderer(templates: content.files(.slackTemplates))
        } catch {
            throw .invalidContent([ContentProblem(error)])
        }
    }

    /// The policies in force at start (the built-in ones, `policies.file`'s or `policies.dir`'s); they must
    /// load. Their warnings (file:line) are logged: they load, but likely do not mean what they say.
    public static func loadPolicies(_ content: ContentLibrary, logger: Logger) throws(ServerError) -> PolicySet {
        do {
            let loaded = try PolicyLoader.load(from: content, knownTools: BuiltInTools.names)
            for warning in loaded.warnings {
                logger.warning("policy file: \(warning)")
            }
            let policies = loaded.policies
            if !policies.contains(where: \.enabled) {
                logger.warning("no enabled policy: every action is denied", metadata: [
                    "policies": "\(content.origin(.policies)?.path ?? "(built in)")"])
            }
            return PolicySet(PolicyEngine(policies: policies))
        } catch {
            throw .invalidPolicies(error)
        }
    }

    /// Reply-To addresses for approval emails, when `smtp.reply_domain` and the link key are set.
    public static func replyAddresses(_ configuration: HelpdeskConfiguration) -> ApprovalReplyAddress? {
        guard let keys = ApprovalKeyRing(configuration.approvals), let domain = configuration.smtp.replyDomain else { return nil }
        return ApprovalReplyAddress(keys: keys, domain: domain)
    }

    /// Reads approval replies (the webhook and `helpdesk mail-ingest`), when replies are configured.
    public static func mailReplies(_ configuration: HelpdeskConfiguration, governance: Governance, store: any Store) -> MailReplyProcessor? {
        replyAddresses(configuration).map {
            MailReplyProcessor(governance: governance, store: store, addresses: $0, directory: configuration.directory,
                               authservID: configuration.smtp.inboundAuthservID, inbound: configuration.inboundEmail)
        }
    }

    public static func workerOptions(_ configuration: HelpdeskConfiguration) -> JobWorker.Options {
        let jobs = configuration.jobs
        return JobWorker.Options(
            concurrency: jobs.concurrency, lease: jobs.lease, pollInterval: jobs.pollInterval, timeout: jobs.timeout,
            retry: RetryPolicy(base: jobs.backoffBase, max: jobs.backoffMax), shutdownGrace: configuration.server.shutdownGrace)
    }

    /// Opens the store, starts the worker and the HTTP server, and returns after a graceful shutdown
    /// (SIGTERM or SIGINT) with the store closed. `onRunning` is called once the public listener is
    /// bound (with its real port when `server.listen` asks for port 0); it must return quickly, as
    /// the listener accepts connections only after it (`helpdesk demo` starts its story from it).
    /// `telemetry` (the span exporter) runs first and so stops last, flushing what the others traced.
    /// `build` labels `helpdesk_build_info`.
    public static func run(configuration: HelpdeskConfiguration, store: any Store, registry: PrometheusCollectorRegistry,
                           redactor: Redactor, environment: [String: String], logger: Logger, build: BuildLabels = .unknown,
                           telemetry: [any Service] = [],
                           onRunning: (@Sendable (Composition, ListenAddress) async -> Void)? = nil) async throws {
        let app: Composition
        do {
            app = try await Composition.build(configuration, store: store, redactor: redactor, environment: environment, logger: logger)
        } catch {
            try? await store.close()
            throw error
        }
        // Only the server signs people in: commands that build the same composition need no key.
        if configuration.web.enabled, let warning = configuration.web.sessionKeyWarning { logger.warning("\(warning)") }
        let metrics = PrometheusMetricsFactory.helpdesk(registry: registry)
        let handlers = app.jobHandlers
        // Every metric in /metrics from the start, before its first event.
        MetricSeries.register(MetricSeries.Values(build: build, jobKinds: handlers.keys.sorted(), tools: app.governance.toolNames,
                                                  runbooks: app.engine.orchestrator.runbookMetricNames), factory: metrics)
        let worker = JobWorker(queue: store.jobs, handlers: handlers, options: workerOptions(configuration),
                               logger: logger, redactor: redactor, metrics: metrics)
        let dependencies = app.serverDependencies(registry: registry, workerIsRunning: { worker.isRunning })
        let outbox = app.slackAPI.map {
            SlackOutboxService(store: store, api: $0, budgetPerMinute: configuration.slack.channelMessagesPerMinute,
                               render: app.renderStored, logger: logger)
        }
        let listeners: [any Service]
        var reloader: TLSCertificateReloader?
        do {
            (listeners, reloader) = try httpListeners(configuration.server, dependencies: dependencies, logger: logger,
                                                      onServerRunning: { address in await onRunning?(app, address) })
        } catch {
            try? await store.close()
            throw error
        }
        // Shut down in reverse: stop taking requests first, then let the worker finish its jobs.
        let chain = store.auditChain ?? .configured(configuration.audit, storePath: configuration.store.localFilePath)
        let backups: [any Service] = StoreBackupService.configured(configuration.store, chain: chain, logger: logger, metrics: metrics)
            .map { [$0] } ?? []
        var secbot: [any Service] = []
        if configuration.secbot.enabled {
            do {
                secbot = [try app.secbotService()]
            } catch {
                try? await store.close()
                throw error
            }
        }
        var services: [any Service] = telemetry + [
            // First (after span export, which flushes last), so it stops last and its shutdown checkpoint seals the final event.
            AuditCheckpointService(store: store, settings: configuration.audit, storePath: configuration.store.localFilePath, logger: logger),
            PolicyWatcher(content: app.content, policies: app.policies, knownTools: BuiltInTools.names, logger: logger, metrics: metrics,
                          recorder: PolicyReloadRecorder(store: store, probes: app.governance.policyProbes(),
                                                         origin: app.content.origin(.policies)?.path ?? "(built in)")),
            ApprovalExpiryService(store: store, notifiers: app.notifiers, logger: logger),
            StormService(store: store, logger: logger),
            RetentionService(store: store, settings: configuration.retention, logger: logger),
            // The audit view's chain status when the web channel is on: one walk serves both.
            MetricsSampler(store: store, chain: dependencies.web?.chain ?? AuditChainStatus(), metrics: metrics,
                           chainInterval: configuration.audit.chainCheckInterval, logger: logger),
        ] + secbot + backups + (reloader.map { [$0] } ?? []) + (outbox.map { [$0] } ?? []) + [worker] + listeners
        // govbot's scheduled report when govbot.schedule is set: one replica at a time, each slot once.
        if let govbot = app.govbotScheduler() { services.append(govbot) }
        // Last, so it stops first: queued key checks are answered before the listeners wait for their requests.
        services.append(KeyCheckShutdown(verifier: dependencies.limits.keys))
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
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
    static func httpListeners(_ settings: ServerSettings, dependencies: ServerDependencies, logger: Logger,
                              onServerRunning: @escaping @Sendable (ListenAddress) async -> Void = { _ in })
        throws(ServerError) -> ([any Service], TLSCertificateReloader?) {
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
            return ([HTTPService(application: buildApplication(dependencies, tls: tls, onServerRunning: onServerRunning),
                                 address: settings.listen)], reloader)
        }
        return ([
            HTTPService(application: buildApplication(dependencies, surface: .edge, tls: tls, onServerRunning: onServerRunning),
                        address: settings.listen),
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
