import Foundation
import HelpdeskCore

/// `alertmanager:` — receivers that may post alerts, each with the credentials its `http_config` sends.
public struct AlertmanagerSettings: Sendable {
    public struct Receiver: Sendable {
        /// What a request must carry; `none` only when the configuration says `auth: none`.
        public enum Credentials: Sendable {
            case bearer(Secret)
            case basic(username: String, password: Secret)
            case none
        }

        /// `auth:` in the configuration: optional, but `none` must be written out to open a receiver.
        enum AuthChoice: String, CaseIterable {
            case bearer, basic, none
        }

        public var name: String
        public var credentials: Credentials
        public var channel: String?
        /// The Alertmanager that sends this receiver's notifications (`http://alertmanager:9093`):
        /// silences made from an alert's thread are created there. `nil`: no silences for it.
        public var url: URL?

        public init(name: String, credentials: Credentials, channel: String? = nil, url: URL? = nil) {
            self.name = name
            self.credentials = credentials
            self.channel = channel
            self.url = url
        }
    }

    public struct Route: Sendable {
        /// Every label here must have this value.
        public var match: [String: String]
        public var channel: String

        public func matches(_ labels: [String: String]) -> Bool {
            match.allSatisfy { labels[$0.key] == $0.value }
        }
    }

    public var receivers: [Receiver] = []
    /// Channel routing by labels, first match wins; then the receiver's channel; then slack.default_channel.
    public var routes: [Route] = []
    /// Labels that name an alert's target in the inventory, in the order they are tried.
    public var targetLabels = ["target", "db", "datname", "database", "instance", "service", "cluster", "namespace", "pod", "job"]
    /// A firing episode of an alert that fired within this long before is not diagnosed again.
    public var cooldown: Duration = .seconds(600)
    /// Diagnoses of alerts running at once in this process.
    public var maxConcurrentDiagnoses = 2
    /// New alerts a minute (firing or resolved) on one channel above which the channel is in a storm:
    /// one root with a digest instead of a root per group, and only the most severe few diagnosed.
    /// A storm keeps the threshold it opened with.
    public var stormThreshold = 20
    /// Places for diagnoses in a storm: its most severe alerts take them, a diagnosed one keeps its
    /// place until it resolves. A storm keeps the number it opened with.
    public var stormDiagnoseTop = 3
    /// In a storm, diagnoses wait this long after it starts so a more severe alert can displace them.
    public var stormSettle: Duration = .seconds(15)
    /// The storm digest is edited at most this often.
    public var stormDigestInterval: Duration = .seconds(10)
    /// A storm ends once the channel's rate has stayed at or under the storm's threshold this long
    /// (a trickle below it does not keep the storm open), or once all its alerts resolved.
    public var stormQuietPeriod: Duration = .seconds(300)
    /// A calm channel's diagnoses start this long after their alert arrives, so a storm that begins
    /// right after still takes them into its selection instead of each posting its own.
    public var diagnosisDelay: Duration = .seconds(5)

    public init() {}

    init(_ section: ConfigSection) {
        cooldown = section.duration("cooldown", default: cooldown, range: .zero ... .seconds(86400))
        maxConcurrentDiagnoses = section.int("max_concurrent_diagnoses", default: maxConcurrentDiagnoses, range: 1...64)
        stormThreshold = section.int("storm_threshold", default: stormThreshold, range: 1...100_000)
        stormDiagnoseTop = section.int("storm_diagnose_top", default: stormDiagnoseTop, range: 0...100)
        stormSettle = section.duration("storm_settle", default: stormSettle, range: .zero ... .seconds(600))
        stormDigestInterval = section.duration("storm_digest_interval", default: stormDigestInterval, range: .seconds(1) ... .seconds(600))
        stormQuietPeriod = section.duration("storm_quiet_period", default: stormQuietPeriod, range: .seconds(1) ... .seconds(86400))
        diagnosisDelay = section.duration("diagnosis_delay", default: diagnosisDelay, range: .zero ... .seconds(600))
        let labels = section.stringList("target_labels")
        if !labels.isEmpty { targetLabels = labels }
        // `routes: {CHANNEL: {label: value, …}, …}` in order of preference.
        for (channel, matchers) in section.namedSections("routes") {
            routes.append(Route(match: Dictionary(matchers.stringPairs(), uniquingKeysWith: { _, last in last }), channel: channel))
        }
        for (name, receiver) in section.namedSections("receivers") {
            let url = receiver.url("url", schemes: ["http", "https"])
            if let credentials = Self.credentials(of: receiver, named: name) {
                receivers.append(Receiver(name: name, credentials: credentials, channel: receiver.optionalString("channel"), url: url))
            } else {
                _ = receiver.optionalString("channel")
            }
            receiver.finish()
        }
        section.finish()
    }

    /// A receiver's credentials, or `nil` after reporting why they resolve to nothing: a receiver
    /// left open by a missing environment variable would let anyone post alerts.
    private static func credentials(of receiver: ConfigSection, named name: String) -> Receiver.Credentials? {
        let variable = "HELPDESK_ALERTMANAGER_\(environmentName(name))"
        let choice: Receiver.AuthChoice? = receiver.optionalChoice("auth")
        let token = receiver.secret("bearer_token", environment: variable + "_BEARER_TOKEN")
        let username = receiver.optionalString("basic_auth_username")
        let password = receiver.secret("basic_auth_password", environment: variable + "_BASIC_AUTH_PASSWORD")
        let how = "set \(variable)_BEARER_TOKEN or bearer_token_file, or basic_auth_username with " +
            "\(variable)_BASIC_AUTH_PASSWORD or basic_auth_password_file"
        switch choice {
        case .none?:
            guard token == nil, username == nil, password == nil else {
                receiver.report("auth", "auth: none accepts unauthenticated posts, but credentials are configured too; remove one")
                return nil
            }
            return Receiver.Credentials.none
        case .bearer?, .basic?, nil:
            if let token, choice != .basic {
                guard username == nil else {
                    receiver.report("basic_auth_username", "a receiver takes a bearer token or basic auth, not both")
                    return nil
                }
                return .bearer(token)
            }
            if let username, choice != .bearer {
                guard let password else {
                    receiver.report("basic_auth_username", "basic_auth_username is set but no password resolves: set " +
                                    "\(variable)_BASIC_AUTH_PASSWORD or basic_auth_password_file")
                    return nil
                }
                return .basic(username: username, password: password)
            }
            let wanted = choice.map { "auth: \($0.rawValue) is set but its credential resolves to nothing: " } ?? "no credentials resolve: "
            receiver.reportSection(wanted + how + "; or write `auth: none` to accept unauthenticated posts")
            return nil
        }
    }

    static func environmentName(_ name: String) -> String {
        String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}

/// `smtp:` — outbound mail.
public struct SMTPSettings: Sendable {
    /// `smtp://host:587` (STARTTLS) or `smtps://host:465`.
    public var url: URL?
    public var from: String?
    public var username: String?
    /// From `HELPDESK_SMTP_PASSWORD` or `smtp.password_file`.
    public var password: Secret?
    /// Send over plain `smtp://` when the server offers no STARTTLS. Off unless set.
    public var allowPlaintext = false
    /// A CA bundle to verify the mail server against, for a private CA.
    public var caFile: String?
    public var connectTimeout: Duration = .seconds(10)
    public var timeout: Duration = .seconds(60)
    /// Domain of the tokenized Reply-To addresses for approval replies.
    public var replyDomain: String?
    /// A folder of email templates that override the built-in ones file by file; `nil`: only those.
    public var templatesDirectory: String?
    /// When set, an emailed approval reply counts only if an `Authentication-Results` header added
    /// by this authserv-id (your own receiving MTA) says DMARC, DKIM or SPF passed for the sender's domain.
    public var inboundAuthservID: String?

    public init() {}

    init(_ section: ConfigSection) {
        templatesDirectory = section.folder("templates_dir", overriding: "the built-in email templates file by file")
        url = section.url("url", schemes: ["smtp", "smtps"])
        from = section.optionalString("from")
        username = section.optionalString("username")
        password = section.secret("password", environment: "HELPDESK_SMTP_PASSWORD")
        allowPlaintext = section.bool("allow_plaintext", default: allowPlaintext)
        caFile = section.optionalString("ca_file")
        connectTimeout = section.duration("connect_timeout", default: connectTimeout, range: .seconds(1) ... .seconds(300))
        timeout = section.duration("timeout", default: timeout, range: .seconds(1) ... .seconds(3600))
        replyDomain = section.optionalString("reply_domain")
        inboundAuthservID = section.optionalString("inbound_authserv_id")
        section.finish()
    }
}

/// `llm:` — optional language model; without one the bot runs its deterministic runbooks.
public struct LLMSettings: Sendable {
    public enum Provider: String, Sendable, CaseIterable {
        case none, anthropic, openai
    }

    public var provider = Provider.none
    public var model: String?
    /// For OpenAI-compatible servers (vLLM, Ollama, llama.cpp); defaults to the provider's own API.
    public var baseURL: URL?
    /// From `ANTHROPIC_API_KEY` or `OPENAI_API_KEY` (by provider), or `llm.api_key_file`.
    public var apiKey: Secret?
    /// Model turns in one investigation.
    public var maxSteps = 8
    /// Input plus output tokens one investigation may spend.
    public var tokenBudget = 60_000
    /// Output tokens per model turn.
    public var maxTokens = 2048
    /// One model request, including retries' waiting.
    public var timeout: Duration = .seconds(60)

    public init() {}

    init(_ section: ConfigSection) {
        provider = section.choice("provider", default: provider)
        model = section.optionalString("model")
        baseURL = section.url("base_url", schemes: ["http", "https"])
        let variable = provider == .openai ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY"
        apiKey = section.secret("api_key", environment: variable)
        maxSteps = section.int("max_steps", default: maxSteps, range: 1...50)
        tokenBudget = section.int("token_budget", default: tokenBudget, range: 1000...2_000_000)
        maxTokens = section.int("max_tokens", default: maxTokens, range: 64...64_000)
        timeout = section.duration("timeout", default: timeout, range: .seconds(1) ... .seconds(600))
        if provider != .none, model == nil {
            section.report("model", "required when llm.provider is \(provider.rawValue): the model name to ask")
        }
        section.finish()
    }
}

/// `policies:` — where the policy files are.
public struct PolicySettings: Sendable {
    /// A folder whose policy files are all the policies in force (the built-in ones are then off);
    /// `nil`: the built-in policies.
    public var directory: String?
    /// One policy file that is all the policies in force (aiHelpDesk's `HELPDESK_POLICY_FILE`);
    /// env `HELPDESK_POLICIES_FILE`. Never together with ``directory``.
    public var file: String?

    public init() {}

    init(_ section: ConfigSection) {
        directory = section.folder("dir", overriding: "the built-in policies: its files are then all the policies in force")
        file = Self.file(section)
        if file != nil, directory != nil {
            section.report("file", "policies.file and policies.dir both name the policies in force; keep one of them")
            directory = nil
        }
        section.finish()
    }

    /// `file`, which must be a file that is there: a typo would otherwise be found only at start
    /// (or, by the reloader, never). Empty means none.
    private static func file(_ section: ConfigSection) -> String? {
        guard let path = section.optionalString("file"), !path.isEmpty else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            section.report("file", "no such file \(path) (it replaces the built-in policies); "
                           + "create it, or remove the key to use the built-in ones")
            return nil
        }
        guard !isDirectory.boolValue else {
            section.report("file", "\(path) is a folder; name a folder of policy files with policies.dir")
            return nil
        }
        return path
    }
}

/// `diagnosis:` — runbooks, tool limits and incident bundles.
public struct DiagnosisSettings: Sendable {
    /// A folder of runbooks that override the built-in ones file by file (same file name) and add
    /// new ones; `nil`: only the built-in runbooks.
    public var runbooksDirectory: String?
    /// Each tool of a diagnosis gets this long unless its runbook step says otherwise.
    public var toolTimeout: Duration = .seconds(10)
    /// Every database read runs under this statement timeout.
    public var statementTimeout: Duration = .seconds(5)
    /// Rows a single database read returns at most.
    public var rowCap = 200
    /// Default: an `incidents` folder beside `store.path`.
    public var bundlesDirectory = ""
    /// Bundles older than this are deleted.
    public var bundleRetention: Duration = .seconds(30 * 86400)

    public init() {}

    init(_ section: ConfigSection, defaultBundles: String) {
        runbooksDirectory = section.folder("runbooks_dir", overriding: "the built-in runbooks file by file")
        toolTimeout = section.duration("tool_timeout", default: toolTimeout, range: .milliseconds(100) ... .seconds(600))
        statementTimeout = section.duration("statement_timeout", default: statementTimeout, range: .milliseconds(100) ... .seconds(600))
        rowCap = section.int("row_cap", default: rowCap, range: 1...100_000)
        bundlesDirectory = section.string("bundles_dir", default: defaultBundles)
        bundleRetention = section.duration("bundle_retention", default: bundleRetention, range: .seconds(3600) ... .seconds(3650 * 86400))
        section.finish()
    }
}
