import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskStore
import HelpdeskWeb
import Mustache

/// What the web channel's routes need besides what every route has (the store, the gate, the
/// directory): its settings, its sign-in parts, its pages. `ServerDependencies.web` is `nil` when
/// `web.enabled` is false: then no web route exists and `/` answers 404.
public struct WebDependencies: Sendable {
    public var settings: WebSettings
    // The sign-in parts (HelpdeskWeb); every call into them is in WebRoutes+Auth.swift.
    public var sessions: WebSessions
    public var throttle: LoginThrottle
    public var passwords: PasswordCheck
    /// `templates/web/`: the pages, with the `web_head` and `web_foot` partials.
    public var pages: WebPages
    /// `app.js` and `style.css`, served as they are.
    public var assets: [WebAsset: String]
    /// The body of a feed entry made from stored state (a storm's digest), as the Slack sender makes it.
    public let renderStored: @Sendable (RenderedBody) async throws -> JSONValue?
    /// Commands and clicks a person may queue a minute (per process).
    static let requestsPerPersonPerMinute = 30
    let requestsPerPerson = SourceRateLimiter(perMinute: WebDependencies.requestsPerPersonPerMinute)
    /// Open `/web/events` streams of this process.
    let streams: WebEventStreams
    /// The feed's threads at the newest feed version, shared by every page and refresh.
    let feedCache = FeedCache()
    /// The audit chain's last verification, shared by every audit page and the metrics sampler.
    let chain = AuditChainStatus()

    public init(settings: WebSettings, sessions: WebSessions, throttle: LoginThrottle, passwords: PasswordCheck,
                pages: WebPages, assets: [WebAsset: String],
                renderStored: @escaping @Sendable (RenderedBody) async throws -> JSONValue?, maxStreams: Int = 64) {
        self.settings = settings
        self.sessions = sessions
        self.throttle = throttle
        self.passwords = passwords
        self.pages = pages
        self.assets = assets
        self.renderStored = renderStored
        self.streams = WebEventStreams(limit: maxStreams)
    }
}

/// The feed's threads as built at one feed version: every tab refreshes on the same change, and one
/// build serves them all (a storm digest is read from the store once, not once per tab).
actor FeedCache {
    private var kept: (version: String, threads: [WebThread])?

    func threads(at version: String) -> [WebThread]? {
        kept?.version == version ? kept?.threads : nil
    }

    func keep(_ threads: [WebThread], at version: String) {
        kept = (version, threads)
    }
}
