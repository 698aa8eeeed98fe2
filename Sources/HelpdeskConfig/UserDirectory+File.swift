import HelpdeskCore

/// aiHelpDesk's users file, read as its loader reads it, strictly:
///
/// ```yaml
/// version: "1"                      # optional: 1, 1.0 or 1.x
/// users:
///   - id: alice@example.com         # the principal; its email too when it has an @
///     roles: [dba, oncall]
///     slack_user_id: U0ALICE        # ours: email, slack_user_id, slack_team_id, password_argon2id
/// service_accounts:
///   - id: ci-runner                 # acts as service:ci-runner
///     roles: [ci-readonly]
///     api_key_hash: "$argon2id$v=19$m=65536,t=3,p=4$…$…"
/// role_aliases: {oncall: sre}       # a role named on the left counts as the one on the right
/// ```
///
/// Keys starting with `_` are comments at every level. A duplicated id is a warning naming both
/// lines and the later entry wins, as in aiHelpDesk; a placeholder hash or a reserved id is an error.
extension UserDirectory {
    mutating func readUsersFile(_ file: ConfigSection) {
        let comment = { (key: String) in key.hasPrefix("_") }
        file.ignore(where: comment)
        if let problem = AIHelpDeskSchema.versionProblem(file.optionalString("version")) {
            file.report("version", problem)
        }
        let aliases = Self.roleAliases(file.section("role_aliases"))
        let expand = { (roles: [String]) in roles.map { aliases[$0] ?? $0 } }

        var userLines: [String: Int?] = [:]
        for (_, entry) in file.sections("users") {
            entry.ignore(where: comment)
            defer { entry.finish() }
            guard let id = Self.userID(of: entry) else { continue }
            let user = Self.user(id: id, entry, roles: expand(entry.stringList("roles")))
            if Self.warnIfDuplicate(id, entry, seen: &userLines) { users.removeAll { $0.name == id } }
            users.append(user)
        }

        var accountLines: [String: Int?] = [:]
        for (_, entry) in file.sections("service_accounts") {
            entry.ignore(where: comment)
            defer { entry.finish() }
            guard let id = Self.id(of: entry) else { continue }
            let roles = expand(entry.stringList("roles"))
            let keyHash = Self.keyHash(of: entry)
            let lookAlike = Self.characterProblem(id)
            if let lookAlike { entry.report("id", lookAlike) }
            let reserved = BuiltInServices.role(of: id)
            if let role = reserved {
                let matched = BuiltInServices.reserved.contains(id) ? "" : " (reserved ids are matched whatever their case)"
                entry.report("id", "\"\(id)\" is \(role)\(matched) and cannot be an API account; rename it (for example \(id)-api) "
                             + "here and in the policies that name service: \(id)-api")
            }
            if Self.warnIfDuplicate(id, entry, seen: &accountLines) { serviceAccounts.removeAll { $0.id == id } }
            if let keyHash, reserved == nil, lookAlike == nil {
                serviceAccounts.append(ServiceAccount(id: id, roles: roles, keyHash: keyHash))
            }
        }
        file.finish()
    }

    /// `role_aliases: {alias: canonical}`: one level, as aiHelpDesk expands them (no chains).
    private static func roleAliases(_ section: ConfigSection) -> [String: String] {
        var aliases: [String: String] = [:]
        for (alias, canonical) in section.stringPairs() where !alias.hasPrefix("_") && !canonical.isEmpty {
            aliases[alias] = canonical
        }
        return aliases
    }

    /// The entry's id; without one, the entry is reported once and its other keys are not read.
    private static func id(of entry: ConfigSection) -> String? {
        guard let id = entry.optionalString("id"), !id.isEmpty else {
            // (An id that is not a string has been reported as such.)
            if entry.valueKind("id") == nil || entry.valueKind("id") == .scalar { entry.reportSection("an id is required") }
            entry.ignore { _ in true }
            return nil
        }
        return id
    }

    /// A user's id, checked as a principal name (see ``nameProblem(_:)``) and for its characters; service
    /// account ids are prefixed `service:` by the server, so they need the character and reserved checks only.
    private static func userID(of entry: ConfigSection) -> String? {
        guard let id = id(of: entry) else { return nil }
        if let problem = personNameProblem(id) {
            entry.report("id", problem)
            entry.ignore { _ in true }
            return nil
        }
        return id
    }

    /// Ids are ASCII letters, digits and `. _ @ + -` (what emails need), so no id can pass for another in the
    /// audit log or a policy: not `srebot ` with a trailing space, not a Cyrillic `а` for a Latin `a`.
    static func characterProblem(_ id: String) -> String? {
        for (offset, scalar) in id.unicodeScalars.enumerated() where !isIDCharacter(scalar) {
            let hex = String(scalar.value, radix: 16, uppercase: true)
            let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            let what = scalar == " " ? "a space (\(code))"
                : (0x21..<0x7F).contains(scalar.value) ? "\"\(Character(scalar))\" (\(code))" : code
            return "an id may hold only ASCII letters, digits and . _ @ + -, so that no id can look like another (such as a "
                + "built-in bot) in the audit log or a policy; this one has \(what) at character \(offset + 1); rename it"
        }
        return nil
    }

    private static func isIDCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39: true  // A-Z a-z 0-9
        case 0x2E, 0x5F, 0x40, 0x2B, 0x2D: true  // . _ @ + -
        default: false
        }
    }

    private static func user(id: String, _ entry: ConfigSection, roles: [String]) -> User {
        let email = entry.optionalString("email")
        if let email, !email.contains("@") { entry.report("email", "expected an email address, got \"\(email)\"") }
        return User(name: id, roles: roles, email: email ?? (id.contains("@") ? id : nil),
                    slackUserID: entry.optionalString("slack_user_id"), slackTeamID: entry.optionalString("slack_team_id"),
                    passwordHash: passwordHash(of: entry))
    }

    /// A person's `password_argon2id` (the web sign-in), in a users file or under `users:` alike, or `nil`
    /// after reporting what is wrong with it at its line.
    static func passwordHash(of entry: ConfigSection) -> Argon2idHash? {
        guard let encoded = entry.optionalString("password_argon2id") else { return nil }
        do {
            return try Argon2idHash(encoded: encoded)
        } catch {
            entry.report("password_argon2id", "not an Argon2id hash (\(error.message)); generate one with `helpdesk hash-key`")
            return nil
        }
    }

    /// The account's `api_key_hash`, or `nil` after reporting what is wrong with it at its line.
    private static func keyHash(of entry: ConfigSection) -> Argon2idHash? {
        guard let encoded = entry.optionalString("api_key_hash"), !encoded.isEmpty else {
            entry.report("api_key_hash", "required: the Argon2id hash of the account's API key; generate one with `helpdesk hash-key`")
            return nil
        }
        do {
            return try Argon2idHash(encoded: encoded)
        } catch {
            entry.report("api_key_hash", "not an Argon2id hash (\(error.message)); generate one with `helpdesk hash-key`")
            return nil
        }
    }

    /// Warns when `id` was seen before in the same list, naming both lines; records this line.
    /// Returns whether an earlier entry is to be replaced.
    private static func warnIfDuplicate(_ id: String, _ entry: ConfigSection, seen: inout [String: Int?]) -> Bool {
        let line = entry.line(of: "id")
        defer { seen.updateValue(line, forKey: id) }  // (a subscript assignment of nil would remove it)
        guard let earlier = seen[id] else { return false }
        let lines = "\(earlier.map(String.init) ?? "?") and \(line.map(String.init) ?? "?")"
        entry.warn("id", "\"\(id)\" is listed twice, at lines \(lines); the later entry (line \(line.map(String.init) ?? "?")) "
                   + "is used, as aiHelpDesk does")
        return true
    }
}
