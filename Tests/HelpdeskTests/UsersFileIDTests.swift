import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskTestSupport
import Testing

/// Ids in a users file that could pass for another (the alert bot) are refused, and a file whose
/// Argon2id hashes make every unknown key expensive is warned about.
@Suite struct UsersFileIDTests {
    /// A hash with `helpdesk hash-key`'s parameters (m=65536, t=3), only parsed here, never verified.
    static let defaultCostHash = "$argon2id$v=19$m=65536,t=3,p=4$VGs4c1cxcUx6NlVl$VPe2+2mrA0az4zch563fyuaUYGEHReMgY5jQ77guGDw"

    private func load(usersFile contents: String, config: (String) -> String = { "users:\n  file: \($0)\n" })
        throws -> Result<HelpdeskConfiguration, ConfigError> {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("users.yaml", contents)
        do {
            return .success(try HelpdeskConfiguration(yaml: config(path), file: "h.yaml"))
        } catch {
            return .failure(error)
        }
    }

    private func issues(usersFile contents: String) throws -> [ConfigIssue] {
        guard case .failure(let error) = try load(usersFile: contents) else { return [] }
        return error.issues
    }

    private func account(_ id: String) -> String {
        "service_accounts:\n  - id: \(id)\n    api_key_hash: \"\(Self.defaultCostHash)\"\n"
    }

    @Test(arguments: ["SrEbot", "SREBOT", "GovBot"])
    func aReservedIdInAnotherCaseIsRefused(id: String) throws {
        let found = try issues(usersFile: account(id))
        #expect(found.map(\.keyPath) == ["service_accounts[0].id"])
        #expect(found.first?.line == 2)
        #expect(found.first?.message.hasPrefix("\"\(id)\" is ") == true)
        #expect(found.first?.message.contains("(reserved ids are matched whatever their case)") == true)
        #expect(BuiltInServices.role(of: id) != nil)
    }

    @Test(arguments: [
        ("\"srebot \"", "a space (U+0020) at character 7"),
        ("\"sreb\u{043E}t\"", "U+043E at character 5"),  // a Cyrillic o
        ("\"ci\u{200B}runner\"", "U+200B at character 3"),  // a zero-width space
        ("\"ci/runner\"", "\"/\" (U+002F) at character 3"),
    ])
    func anAccountIdOutsideTheIdCharactersIsRefusedAtItsLine(id: String, problem: String) throws {
        let found = try issues(usersFile: account(id))
        #expect(found.map(\.keyPath) == ["service_accounts[0].id"])
        #expect(found.first?.line == 2)
        #expect(found.first?.message.hasPrefix("an id may hold only ASCII letters, digits and . _ @ + -") == true)
        #expect(found.first?.message.contains("this one has \(problem); rename it") == true, "\(found)")
    }

    @Test func aUserIdOutsideTheIdCharactersIsRefusedAtItsLine() throws {
        let found = try issues(usersFile: "users:\n  - id: ann@example.com\n  - id: \"ann\u{00A0}@example.com\"\n")
        #expect(found.map(\.description) == [
            "\(found.first?.source ?? ""):3: users[1].id: an id may hold only ASCII letters, digits and . _ @ + -, so that "
                + "no id can look like another (such as a built-in bot) in the audit log or a policy; this one has U+00A0 "
                + "at character 4; rename it",
        ])
    }

    @Test func emailsAndUsualAccountNamesLoad() throws {
        let loaded = try load(usersFile: "users:\n  - id: priya.k+ops@ops-1.example.net\n  - id: Tomasz_W\n"
                              + account("ci.runner_01-x@build+eu"))
        guard case .success(let configuration) = loaded else {
            Issue.record("did not load: \(loaded)")
            return
        }
        #expect(configuration.directory.users.map(\.name) == ["priya.k+ops@ops-1.example.net", "Tomasz_W"])
        #expect(configuration.directory.serviceAccounts.map(\.id) == ["ci.runner_01-x@build+eu"])
    }

    @Test func anAPITokenCannotActAsABuiltInBotInAnotherCase() {
        let error = #expect(throws: ConfigError.self) {
            try HelpdeskConfiguration(yaml: "api:\n  tokens:\n    \"service:SrEbot\":\n      token_sha256: \(String(repeating: "ab", count: 32))\n",
                                      file: "h.yaml")
        }
        #expect(error?.description.contains("h.yaml:4: api.tokens.service:SrEbot: service:SrEbot is this project's built-in alert bot") == true,
                "\(String(describing: error))")
    }

    // MARK: What an unknown key costs

    @Test func moreThanFourDefaultHashesOfCandidatesIsWarnedAboutAtTheUsersFile() throws {
        let accounts = (1...5).map { "  - id: ci-\($0)\n    api_key_hash: \"\(Self.defaultCostHash)\"\n" }.joined()
        guard case .success(let configuration) = try load(usersFile: "service_accounts:\n" + accounts) else {
            Issue.record("did not load")
            return
        }
        #expect(configuration.warnings.map(\.keyPath) == ["users.file"])
        #expect(configuration.warnings.first?.source == "h.yaml" && configuration.warnings.first?.line == 2)
        let message = configuration.warnings.first?.message ?? ""
        #expect(message.hasPrefix("an unknown API key is checked against every Argon2id hash: here 5 service accounts, "
                                  + "5.0 times the cost of one default hash (m=65536 KiB, t=3) together, so each wrong key "
                                  + "from any address costs all 5 checks"), "\(message)")
        #expect(message.contains("`helpdesk hash-key --generate --sha256`"))
    }

    @Test func fourDefaultHashesOrManyCheapOnesAreNotWarnedAbout() throws {
        let four = (1...4).map { "  - id: ci-\($0)\n    api_key_hash: \"\(Self.defaultCostHash)\"\n" }.joined()
        guard case .success(let configuration) = try load(usersFile: "service_accounts:\n" + four) else {
            Issue.record("did not load")
            return
        }
        #expect(configuration.warnings.isEmpty)
        // 8 KiB and one pass each: forty of them cost less than one default hash.
        let cheap = "$argon2id$v=19$m=8,t=1,p=1$VGs4c1cxcUx6NlVl$VPe2+2mrA0az4zch563fyuaUYGEHReMgY5jQ77guGDw"
        let forty = (1...40).map { "  - id: ci-\($0)\n    api_key_hash: \"\(cheap)\"\n" }.joined()
        guard case .success(let cheapOnes) = try load(usersFile: "service_accounts:\n" + forty) else {
            Issue.record("did not load")
            return
        }
        #expect(cheapOnes.warnings.isEmpty)
    }

    @Test func argon2idTokensAloneAreWarnedAboutAtTheTokens() throws {
        let tokens = (1...5).map { "    t\($0):\n      token_argon2id: \"\(Self.defaultCostHash)\"\n" }.joined()
        let configuration = try HelpdeskConfiguration(yaml: "api:\n  tokens:\n" + tokens, file: "h.yaml")
        #expect(configuration.warnings.map(\.keyPath) == ["api.tokens"])
        #expect(configuration.warnings.first?.line == 2)
        #expect(configuration.warnings.first?.message.contains("here 5 token_argon2id tokens, 5.0 times") == true)
    }
}
