import HelpdeskCore

/// `users:` — the people the bot knows (roles for policy, how to reach them) and the service
/// accounts whose API keys it checks against stored Argon2id hashes.
///
/// Either listed in the configuration (`users: {alice: {roles: [dba]}}`) or read from an aiHelpDesk
/// users file that `users.file` (or `HELPDESK_USERS_FILE`) names; not both.
public struct UserDirectory: Sendable {
    public struct User: Sendable {
        public var name: String
        public var roles: [String]
        public var email: String?
        /// Slack member id (`U…`), so a Slack user maps to this principal.
        public var slackUserID: String?
        /// Slack workspace id (`T…`); when set, the member id counts only from that workspace.
        public var slackTeamID: String?
        /// `password_argon2id` in a users file or under `users:`: for the web channel's sign-in.
        public var passwordHash: Argon2idHash?

        public init(name: String, roles: [String] = [], email: String? = nil, slackUserID: String? = nil, slackTeamID: String? = nil,
                    passwordHash: Argon2idHash? = nil) {
            self.name = name
            self.roles = roles
            self.email = email
            self.slackUserID = slackUserID
            self.slackTeamID = slackTeamID
            self.passwordHash = passwordHash
        }
    }

    /// An automated caller of the API (aiHelpDesk's `service_accounts`): a bearer key whose Argon2id
    /// hash matches `keyHash` acts as principal `service:ID` with these roles.
    public struct ServiceAccount: Sendable {
        public var id: String
        public var roles: [String]
        public var keyHash: Argon2idHash

        public init(id: String, roles: [String] = [], keyHash: Argon2idHash) {
            self.id = id
            self.roles = roles
            self.keyHash = keyHash
        }
    }

    public var users: [User] = []
    public var serviceAccounts: [ServiceAccount] = []
    /// The users file these came from; `nil` when they are listed in the configuration.
    public var file: String?

    public init() {}

    init(_ top: ConfigSection) {
        if top.valueKind("users") == .list {
            top.ignore { $0 == "users" }
            top.report("users", "a list of users is aiHelpDesk's users file format: keep that file as it is and name it "
                       + "with users.file (or HELPDESK_USERS_FILE)")
            return
        }
        let section = top.section("users")
        // `file: PATH` names a users file; `file: {roles: …}` stays a user named "file".
        let fileIsUser = section.valueKind("file") == .mapping
        let named = fileIsUser ? section.environmentOverride("file") : section.optionalString("file")
        guard let path = named, !path.isEmpty else {
            readInline(top, skipFileKey: !fileIsUser)
            return
        }
        if let listed = section.keys.first(where: { $0 != "file" || fileIsUser }) {
            section.report(listed, "users are listed here while users.file names \(path) too; keep one: move them "
                           + "into that file, or remove users.file")
            section.ignore { _ in true }
        }
        file = path
        if let contents = section.externalFile("file", path: path, as: []) {
            readUsersFile(contents)
        }
        section.finish()
    }

    /// Users listed in the configuration, by name.
    private mutating func readInline(_ top: ConfigSection, skipFileKey: Bool) {
        for (name, entry) in top.namedSections("users") where !(skipFileKey && name == "file") {
            if let problem = Self.personNameProblem(name) { entry.reportSection(problem) }
            let email = entry.optionalString("email")
            if let email, !email.contains("@") { entry.report("email", "expected an email address, got \"\(email)\"") }
            users.append(User(name: name, roles: entry.stringList("roles"), email: email, slackUserID: entry.optionalString("slack_user_id"),
                              slackTeamID: entry.optionalString("slack_team_id"), passwordHash: Self.passwordHash(of: entry)))
            entry.finish()
        }
    }

    public func user(named name: String) -> User? { users.first { $0.name == name } }

    /// A person's name is matched as a principal string (`approvers`, approval links, govexplain), where
    /// `service:`, `role:`, `group:` and `user:` mean something else: `service:srebot` would act as the bot.
    static func nameProblem(_ name: String) -> String? {
        for prefix in ["service:", "role:", "group:", "user:"] where name.lowercased().hasPrefix(prefix) {
            return "a person's name cannot start with \(prefix) (principal strings read it as a \(prefix.dropLast()), not a person); rename it"
        }
        return name == "anonymous" || name == "*" || name == "any" ? "\"\(name)\" is reserved in principal strings; rename it" : nil
    }

    /// One rule for every name a principal is known by — an inline user, a users-file id, an API token's
    /// principal: a person's name may not read as another kind of principal, a `service:` name may not be a
    /// built-in bot's, and either may hold only the characters ids may (nothing that looks like another).
    static func principalNameProblem(_ name: String) -> String? {
        if name.lowercased().hasPrefix("service:") {
            let id = String(name.dropFirst("service:".count))
            if let role = BuiltInServices.role(of: id) {
                return "\(name) is \(role) and cannot be given to anyone else; name it after the caller (for example service:ci)"
            }
            return characterProblem(id)
        }
        return personNameProblem(name)
    }

    /// A person's name (an inline user, a users-file user id): not a principal string, id characters only.
    static func personNameProblem(_ name: String) -> String? {
        nameProblem(name) ?? characterProblem(name)
    }

    /// The service account with this id (without the `service:` prefix).
    public func serviceAccount(id: String) -> ServiceAccount? { serviceAccounts.first { $0.id == id } }

    /// The user a Slack member is: same member id, and the same workspace when one is set.
    public func user(slackUserID: String, teamID: String?) -> User? {
        users.first { $0.slackUserID == slackUserID && ($0.slackTeamID == nil || $0.slackTeamID == teamID) }
    }
}
