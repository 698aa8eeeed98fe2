import Foundation
import HelpdeskCore
import Yams

/// Everything the server reads at start, typed and validated.
///
/// Read once, in this order: built-in defaults, then the YAML file, then the environment
/// (`HELPDESK_<SECTION>_<KEY>` for a section's settings; ecosystem names such as
/// `SLACK_SIGNING_SECRET` for secrets). Nothing deeper in the code reads the environment.
public struct HelpdeskConfiguration: Sendable {
    /// The file this came from, or `nil` for built-in defaults.
    public var file: String?
    public var server = ServerSettings()
    public var store = StoreSettings()
    public var jobs = JobSettings()
    public var logging = LoggingSettings()
    public var slack = SlackSettings()
    public var alertmanager = AlertmanagerSettings()
    public var smtp = SMTPSettings()
    public var approvals = ApprovalSettings()
    public var inboundEmail = InboundEmailSettings()
    public var llm = LLMSettings()
    public var infrastructure = Infrastructure()
    public var diagnosis = DiagnosisSettings()
    public var api = APISettings()
    public var directory = UserDirectory()
    public var policies = PolicySettings()
    public var audit = AuditSettings()
    public var retention = RetentionSettings()
    public var tracing = TracingSettings()
    public var web = WebSettings()
    public var secbot = SecbotSettings()
    public var govbot = GovbotSettings()
    /// Every secret loaded, so the log redactor can mask their values.
    public var secrets: [Secret] = []
    /// What loaded but deserves a look (keys of features this project lacks, duplicates), in
    /// file order: `config check` prints these, `serve` logs them.
    public var warnings: [ConfigIssue] = []

    /// Built-in defaults without an environment, so with no store location: what
    /// ``load(explicitPath:environment:systemFile:)`` starts from holds the real defaults.
    public init() {}

    /// Parses YAML text. `file` names the source in error messages.
    public init(yaml: String, file: String, environment: [String: String] = [:]) throws(ConfigError) {
        let context = ConfigReadContext(file: file, environment: environment)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(issues: [Self.syntaxIssue(error, file: file)])
        }
        self.file = file
        let top = ConfigSection(context: context, path: [], node: root)
        server = ServerSettings(top.section("server"))
        store = StoreSettings(top.section("store"), defaultPath: DefaultLocations(environment: environment).storePath)
        jobs = JobSettings(top.section("jobs"))
        logging = LoggingSettings(top.section("logging"))
        slack = SlackSettings(top.section("slack"))
        alertmanager = AlertmanagerSettings(top.section("alertmanager"))
        let smtpSection = top.section("smtp")
        smtp = SMTPSettings(smtpSection)
        approvals = ApprovalSettings(top.section("approvals"))
        let repliesOn = smtp.replyDomain != nil && approvals.linkKey != nil
        inboundEmail = InboundEmailSettings(top.section("inbound_email"), replies: repliesOn ? smtpSection : nil)
        llm = LLMSettings(top.section("llm"))
        infrastructure = Infrastructure(top.section("infrastructure"), environment: environment)
        diagnosis = DiagnosisSettings(top.section("diagnosis"), defaultBundles: store.defaultBundlesDirectory)
        let apiSection = top.section("api")
        api = APISettings(apiSection)
        directory = UserDirectory(top)
        // A token named service:X for a users-file account X would act with that account's roles.
        for token in api.tokens where token.principal.hasPrefix("service:") {
            let id = String(token.principal.dropFirst("service:".count))
            guard directory.serviceAccount(id: id) != nil else { continue }
            top.section("api").section("tokens").report(token.principal, "\(token.principal) is also a service account of \(directory.file ?? "the users file"); "
                                                         + "one name, one credential: rename the token or the account")
        }
        if let warning = KeyCheckCost.warning(tokens: api.tokens, accounts: directory.serviceAccounts) {
            // At the users file when it holds accounts (the usual many), else at the tokens.
            if directory.serviceAccounts.isEmpty { apiSection.warn("tokens", warning) } else { top.section("users").warn("file", warning) }
        }
        policies = PolicySettings(top.section("policies"))
        audit = AuditSettings(top.section("audit"))
        retention = RetentionSettings(top.section("retention"))
        web = WebSettings(top.section("web"))
        tracing = TracingSettings(top.section("tracing"))
        secbot = SecbotSettings(top.section("secbot"))
        govbot = GovbotSettings(top.section("govbot"))
        top.finish()
        // aiHelpDesk's names for the same files: a copied .env must not leave them silently unread.
        for (theirs, ours, path) in [("HELPDESK_POLICY_FILE", "HELPDESK_POLICIES_FILE", "policies.file"),
                                     ("HELPDESK_INFRA_CONFIG", "HELPDESK_INFRASTRUCTURE_FILE", "infrastructure.file")]
        where environment[theirs] != nil && environment[ours] == nil {
            context.warnEnvironment(theirs, [], "aiHelpDesk's variable is not read here; set \(ours) (or \(path)) to the same file")
        }
        secrets = context.secrets
        warnings = context.warnings.enumerated().sorted { ($0.element.source, $0.element.line ?? .max, $0.offset) < ($1.element.source, $1.element.line ?? .max, $1.offset) }.map(\.element)
        if !context.issues.isEmpty {
            // In file order, so the output reads top to bottom; environment problems last.
            // Files the configuration names (inventory, users) after its own lines.
            let rank = { (issue: ConfigIssue) in issue.source == file ? 0 : issue.source.hasPrefix("environment ") ? 2 : 1 }
            let ordered = context.issues.enumerated().sorted {
                (rank($0.element), $0.element.source, $0.element.line ?? .max, $0.offset) < (rank($1.element), $1.element.source, $1.element.line ?? .max, $1.offset)
            }
            throw ConfigError(issues: ordered.map(\.element), warnings: warnings)
        }
    }

    /// Reads and parses a configuration file.
    public init(contentsOf path: String, environment: [String: String] = [:]) throws(ConfigError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(issues: [ConfigIssue(source: path, line: nil, keyPath: "", message: "cannot read the configuration file (\(describeFileError(error)))")])
        }
        try self.init(yaml: text, file: path, environment: environment)
    }

    /// Finds and loads the configuration: `explicitPath` (from `--config`), else `HELPDESK_CONFIG`,
    /// else the first that exists of the user's file (``DefaultLocations/userConfigFile``) and
    /// `systemFile`, else built-in defaults (still with environment overrides). Never the working
    /// directory. Refuses a configuration that leaves the store nowhere (no `store.path`, no `HOME`).
    public static func load(explicitPath: String?, environment: [String: String],
                            systemFile: String = DefaultLocations.systemConfigFile) throws(ConfigError) -> HelpdeskConfiguration {
        let configuration: HelpdeskConfiguration
        let candidates = [DefaultLocations(environment: environment).userConfigFile, systemFile].compactMap { $0 }
        if let path = explicitPath ?? environment["HELPDESK_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
            configuration = try HelpdeskConfiguration(contentsOf: path, environment: environment)
        } else if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            configuration = try HelpdeskConfiguration(contentsOf: found, environment: environment)
        } else {
            var defaults = try HelpdeskConfiguration(yaml: "", file: "built-in defaults", environment: environment)
            defaults.file = nil
            configuration = defaults
        }
        guard !configuration.store.path.isEmpty || configuration.store.driver == .postgres else {
            throw ConfigError(issues: [ConfigIssue(
                source: configuration.file ?? "built-in defaults", line: nil, keyPath: "store.path",
                message: "no default location: neither XDG_STATE_HOME nor HOME is set; set store.path (or HELPDESK_STORE_PATH) "
                    + "to where the store should live, such as /var/lib/helpdesk/helpdesk.sqlite")])
        }
        return configuration
    }

    /// Where and what, never the quoted lines Yams adds to its own description.
    private static func syntaxIssue(_ error: any Error, file: String) -> ConfigIssue {
        guard let error = error as? YamlError else {
            return ConfigIssue(source: file, line: nil, keyPath: "", message: "not valid YAML: \(error)")
        }
        let (problem, mark) = ConfigSection.describe(error)
        return ConfigIssue(source: file, line: mark?.line, keyPath: "", message: "not valid YAML: \(problem)")
    }
}
