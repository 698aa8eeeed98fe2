import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskSlack
import HelpdeskStore
import Hummingbird
import HummingbirdCore
import HelpdeskMail
import Logging
import Mustache
import Metrics
import Prometheus

/// What the HTTP application needs from the rest of the process.
public struct ServerDependencies: Sendable {
    public var settings: ServerSettings
    public var store: any Store
    public var workerIsRunning: @Sendable () -> Bool
    public var registry: PrometheusCollectorRegistry
    public var logger: Logger
    /// The REST API's engine and tokens; without an engine there is no `/api/v1`.
    public var engine: DiagnosisEngine?
    /// The gate; without it write tools are refused and there is no `/v1` approvals API.
    public var governance: Governance?
    /// Slack: the signing secret and what commands need; `/slack/commands` answers 503 without them.
    public var slackSigningSecret: Secret?
    /// During a Slack signing-secret rotation, the previous secret and when it stops counting.
    public var slackPreviousSigningSecret: SlackSettings.PreviousSigningSecret?
    public var slack: SlackCommandContext?
    /// Alertmanager: receivers and the alert bot; the webhook answers 503 without them.
    public var alertmanager = AlertmanagerSettings()
    public var defaultChannel: String?
    public var srebot: SrebotContext?
    /// Approval links and their page; the page answers 503 without a link key.
    public var approvalLinks: ApprovalLinks?
    public var approvalPages: MustacheLibrary?
    /// Approval replies by email; `/webhooks/email` answers 503 without them.
    public var mailReplies: MailReplyProcessor?
    public var api = APISettings()
    /// The people and service accounts: an account's key is accepted by the API as `service:ID`.
    public var directory = UserDirectory()
    /// The process's redactor (with the configured secrets), for what routes write to the audit log.
    public var redactor = Redactor()
    /// Per-source buckets, shared by every listener of the process.
    public var limits: RateLimits
    /// Spans for requests when `tracing.otlp_endpoint` is set.
    public var tracing = TracingSettings()
    /// The web channel at `/`; `nil` (`web.enabled: false`) serves no web route.
    public var web: WebDependencies?

    public init(settings: ServerSettings, store: any Store, workerIsRunning: @escaping @Sendable () -> Bool,
                registry: PrometheusCollectorRegistry, logger: Logger) {
        self.settings = settings
        self.store = store
        self.workerIsRunning = workerIsRunning
        self.registry = registry
        self.logger = logger
        self.limits = RateLimits(settings)
    }

    var metricsFactory: any MetricsFactory { PrometheusMetricsFactory.helpdesk(registry: registry) }
}

/// Which routes a listener serves: everything on one address, or the public edge (what Slack,
/// Alertmanager, mail providers and approvers must reach) apart from the admin side (`/metrics`,
/// `/readyz`, the REST API) when `server.admin_listen` is set.
public enum ListenerSurface: Sendable {
    case all, edge, admin

    var servesEdge: Bool { self != .admin }
    var servesAdmin: Bool { self != .edge }
}

/// The rate limits of ``RateLimitMiddleware`` and the API key checker (its success cache, failed
/// checks per source, hashing threads), made once per process so every listener shares them.
public struct RateLimits: Sendable {
    let open: SourceRateLimiter
    let failures: SourceRateLimiter
    let keys: BearerKeyVerifier

    public init(_ settings: ServerSettings) {
        open = SourceRateLimiter(perMinute: settings.unauthenticatedPerMinute)
        failures = SourceRateLimiter(perMinute: settings.failedAuthPerMinute)
        keys = BearerKeyVerifier()
    }
}

/// The router with the routes of `surface` and every middleware; tests drive it directly.
public func buildRouter(_ dependencies: ServerDependencies, surface: ListenerSurface = .all) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: MetricsMiddleware(factory: dependencies.metricsFactory))
    router.add(middleware: RateLimitMiddleware(
        open: dependencies.limits.open, failures: dependencies.limits.failures,
        proxies: dependencies.settings.trustedProxies, metrics: dependencies.metricsFactory))
    if dependencies.tracing.enabled {
        router.add(middleware: RequestTracingMiddleware(acceptIncomingContext: dependencies.tracing.acceptIncomingContext))
    }
    router.add(middleware: ErrorResponseMiddleware())
    router.add(middleware: BodyLimitMiddleware(limit: dependencies.settings.maxBodyBytes))
    HealthRoutes(store: dependencies.store, workerIsRunning: dependencies.workerIsRunning,
                 registry: dependencies.registry, metrics: dependencies.metricsFactory)
        .register(on: router, surface: surface)
    if surface.servesAdmin { registerAdminRoutes(dependencies, on: router) }
    if surface.servesEdge { registerEdgeRoutes(dependencies, on: router) }
    return router
}

/// The REST API and its description.
private func registerAdminRoutes(_ dependencies: ServerDependencies, on router: Router<AppRequestContext>) {
    OpenAPIRoute().register(on: router)
    let authentication = APITokenMiddleware(
        credentials: BearerCredentials(tokens: dependencies.api.tokens, accounts: dependencies.directory.serviceAccounts),
        verifier: dependencies.limits.keys, proxies: dependencies.settings.trustedProxies)
    if let engine = dependencies.engine, let governance = dependencies.governance {
        APIRoutes(engine: engine, governance: governance, store: dependencies.store, authentication: authentication)
            .register(on: router)
    }
    if let governance = dependencies.governance {
        ApprovalRoutes(governance: governance, store: dependencies.store, authentication: authentication).register(on: router)
    }
}

/// What the outside must reach: Slack, Alertmanager, mail providers, approvers and the web channel.
private func registerEdgeRoutes(_ dependencies: ServerDependencies, on router: Router<AppRequestContext>) {
    ApprovalPageRoutes(links: dependencies.approvalLinks, pages: dependencies.approvalPages, governance: dependencies.governance,
                       store: dependencies.store).register(on: router)
    InboundMailRoutes(processor: dependencies.mailReplies).register(on: router)
    AlertmanagerRoutes(settings: dependencies.alertmanager, defaultChannel: dependencies.defaultChannel, srebot: dependencies.srebot,
                       store: dependencies.store, metrics: dependencies.metricsFactory).register(on: router)
    SlackRoutes(signingSecret: dependencies.slackSigningSecret, context: dependencies.slack, store: dependencies.store,
                metrics: dependencies.metricsFactory, previousSigningSecret: dependencies.slackPreviousSigningSecret,
                redactor: dependencies.redactor).register(on: router)
    if let web = dependencies.web {
        WebRoutes(dependencies, web: web).register(on: router)
    }
}

/// The HTTP application listening on `server.listen` (or on `address` with the routes of `surface`).
public func buildApplication(_ dependencies: ServerDependencies, surface: ListenerSurface = .all, address: ListenAddress? = nil,
                             tls: TLSContextBox? = nil,
                             onServerRunning: @escaping @Sendable (ListenAddress) async -> Void = { _ in }) -> some ApplicationProtocol {
    let listen = address ?? dependencies.settings.listen
    let settings = dependencies.settings
    let metrics = dependencies.metricsFactory
    let logger = dependencies.logger
    return Application(
        router: buildRouter(dependencies, surface: surface),
        server: .guarded(readDeadline: settings.requestReadTimeout, idleTimeout: settings.idleTimeout, tls: tls) {
            Counter(label: MetricCatalog.httpReadTimeouts.name, factory: metrics).increment()
            logger.notice("connection closed: the request was not read within server.request_read_timeout")
        },
        configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "helpdesk",
                             availableConnectionsDelegate: MaximumAvailableConnections(settings.maxConnections)),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? listen.port
            await onServerRunning(ListenAddress(host: listen.host, port: port))
        },
        logger: dependencies.logger
    )
}
