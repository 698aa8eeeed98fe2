import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskTestSupport
import Testing

/// `users.file`: an aiHelpDesk users file read as its loader reads it, with problems named by that
/// file's lines. The test keys behind the fixture's hashes are here, never in the fixture.
@Suite struct UsersFileTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/aihelpdesk").path
    static let usersFile = fixtures + "/users.yaml"
    static let problemsFile = fixtures + "/users-problems.yaml"
    static let duplicatesFile = fixtures + "/users-duplicates.yaml"
    /// The keys behind the fixture's hashes.
    static let ciRunnerKey = "ci-runner-test-key-7f3a9c"
    static let nightlyReportsKey = "nightly-reports-test-key-2b8e41"
    static let priyaPassword = "correct horse battery staple test"

    private func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> HelpdeskConfiguration {
        try HelpdeskConfiguration(yaml: yaml, file: "test.yaml", environment: environment)
    }

    private func issues(_ yaml: String, environment: [String: String] = [:]) -> [ConfigIssue] {
        configurationIssues(yaml, environment: environment)
    }

    /// A users file in a fresh folder, named by a configuration.
    private func withUsersFile(_ contents: String, _ body: (String) throws -> Void) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try body(try folder.write("users.yaml", contents))
    }

    @Test func theFixtureLoadsWithUsersServiceAccountsAndRoleAliases() throws {
        let directory = try load("users:\n  file: \(Self.usersFile)\n").directory
        #expect(directory.file == Self.usersFile)
        #expect(directory.users.map(\.name) == ["priya@ops.example.net", "tomasz", "noor@ops.example.net"])
        let priya = try #require(directory.user(named: "priya@ops.example.net"))
        #expect(priya.roles == ["dba", "dba-lead", "oncall"], "on-call is an alias of oncall")
        #expect(priya.email == "priya@ops.example.net", "an id with an @ is the user's email")
        #expect(priya.slackUserID == "U07PRIYA" && priya.slackTeamID == "T07OPSNET")
        #expect(directory.user(slackUserID: "U07PRIYA", teamID: "T07OPSNET")?.name == priya.name)
        let password = try #require(priya.passwordHash)
        #expect(password.verify(Array(Self.priyaPassword.utf8)))
        #expect(!password.verify(Array("wrong password".utf8)))
        #expect(directory.user(named: "tomasz")?.email == "tomasz@dev.example.net")
        #expect(directory.user(named: "noor@ops.example.net")?.roles == ["sre", "oncall"])

        #expect(directory.serviceAccounts.map(\.id) == ["ci-runner", "nightly-reports"])
        let runner = try #require(directory.serviceAccount(id: "ci-runner"))
        #expect(runner.roles == ["ci-readonly"])
        #expect(runner.keyHash.verify(Array(Self.ciRunnerKey.utf8)))
        #expect(!runner.keyHash.verify(Array(Self.nightlyReportsKey.utf8)))
        #expect(directory.serviceAccount(id: "nightly-reports")?.roles == ["sre-automation", "reports"])
    }

    @Test func aReservedIdAndAPlaceholderHashAreErrorsAtTheirLines() {
        let found = issues("users:\n  file: \(Self.problemsFile)\n")
        #expect(found.map(\.source) == [Self.problemsFile, Self.problemsFile])
        #expect(found.map(\.line) == [11, 17])
        #expect(found.map(\.keyPath) == ["service_accounts[0].id", "service_accounts[1].api_key_hash"])
        #expect(found.first?.message == "\"srebot\" is this project's built-in alert bot and cannot be an API account; "
            + "rename it (for example srebot-api) here and in the policies that name service: srebot-api")
        #expect(found.last?.message.hasPrefix("not an Argon2id hash (the hash is a placeholder") == true)
        #expect(found.last?.message.hasSuffix("; generate one with `helpdesk hash-key`") == true)
        #expect(found.first?.description.hasPrefix("\(Self.problemsFile):11: service_accounts[0].id: ") == true)
    }

    @Test func aDuplicatedIdIsAWarningNamingBothLinesAndTheLaterEntryWins() throws {
        let configuration = try load("users:\n  file: \(Self.duplicatesFile)\n")
        let warnings = configuration.warnings
        #expect(warnings.map(\.line) == [6, 13])
        #expect(warnings.map(\.keyPath) == ["users[1].id", "service_accounts[1].id"])
        #expect(warnings.first?.message.contains("at lines 4 and 6") == true)
        #expect(warnings.last?.message.contains("at lines 10 and 13") == true)
        #expect(configuration.directory.users.map(\.roles) == [["dba", "sre"]])
        #expect(configuration.directory.serviceAccounts.map(\.roles) == [["backup", "restore"]])
    }

    @Test func everyReservedIdIsRefusedAsAnAccount() throws {
        let hash = Argon2idHash.make(secret: Array("k".utf8))
        for id in BuiltInServices.reserved.sorted() {
            try withUsersFile("service_accounts:\n  - id: \(id)\n    api_key_hash: \"\(hash)\"\n") { path in
                let found = issues("users:\n  file: \(path)\n")
                #expect(found.map(\.keyPath) == ["service_accounts[0].id"])
                #expect(found.first?.message.contains("cannot be an API account; rename it (for example \(id)-api)") == true)
            }
        }
        // A person may still be called srebot: people and services are different principals.
        try withUsersFile("users:\n  - id: srebot\n    roles: [sre]\n") { path in
            #expect(issues("users:\n  file: \(path)\n").isEmpty)
        }
    }

    @Test func usersFileAndInlineUsersAtOnceIsAnError() {
        let found = issues("users:\n  file: \(Self.usersFile)\n  alice:\n    roles: [dba]\n")
        #expect(found.map(\.keyPath) == ["users.alice"])
        #expect(found.first?.message.contains("keep one") == true)
        let fromEnvironment = issues("users:\n  alice:\n    roles: [dba]\n", environment: ["HELPDESK_USERS_FILE": Self.usersFile])
        #expect(fromEnvironment.map(\.keyPath) == ["users.alice"])
    }

    @Test func theEnvironmentNamesTheUsersFile() throws {
        let configuration = try load("", environment: ["HELPDESK_USERS_FILE": Self.usersFile])
        #expect(configuration.directory.serviceAccounts.map(\.id) == ["ci-runner", "nightly-reports"])
    }

    @Test func aMappingUnderFileIsAUserNamedFile() throws {
        let directory = try load("users:\n  file:\n    roles: [dba]\n  alice:\n    roles: [sre]\n").directory
        #expect(directory.users.map(\.name) == ["file", "alice"])
        #expect(directory.file == nil)
    }

    @Test func aFileThatCannotBeReadIsNamedAtTheKey() {
        let found = issues("users:\n  file: /nonexistent/users.yaml\n")
        #expect(found.map(\.keyPath) == ["users.file"])
        #expect(found.first?.line == 2)
        #expect(found.first?.message.hasPrefix("cannot read /nonexistent/users.yaml") == true)
    }

    @Test func anAiHelpDeskListPastedInlineGetsPointedToUsersFile() {
        let found = issues("users:\n  - id: alice@example.com\n    roles: [dba]\n")
        #expect(found.map(\.keyPath) == ["users"])
        #expect(found.first?.message.contains("users.file") == true)
    }

    @Test(arguments: ["", "version: \"1\"\n", "version: 1\n", "version: \"1.0\"\n", "version: 1.3\n", "version: \"\"\n"])
    func versionOneAndItsMinorVersionsAreRead(version: String) throws {
        try withUsersFile(version + "users:\n  - id: ann\n") { path in
            #expect(issues("users:\n  file: \(path)\n").isEmpty)
        }
    }

    @Test(arguments: ["2", "2.0", "1.x", "v1", "1.0.1"])
    func otherVersionsAreRefusedAtTheirLine(version: String) throws {
        try withUsersFile("# users\nversion: \"\(version)\"\n") { path in
            let found = issues("users:\n  file: \(path)\n")
            #expect(found.map(\.line) == [2])
            #expect(found.first?.message == "version \"\(version)\" is not understood; this project reads aiHelpDesk schema version 1 (1, 1.0, 1.x)")
        }
    }

    @Test func underscoreKeysAreCommentsAndOtherUnknownKeysAreRefusedWithTheirPath() throws {
        try withUsersFile("""
            _comment: top
            users:
              - id: ann
                _note: a comment
                team: dba
            service_accounts:
              - id: ci
                _note: a comment
                api_key_hash: "\(Argon2idHash.make(secret: Array("k".utf8)))"
            role_aliases:
              _comment: a comment
            groups: []
            """) { path in
            let found = issues("users:\n  file: \(path)\n")
            #expect(found.map(\.keyPath) == ["users[0].team", "groups"])
            #expect(found.map(\.line) == [5, 12])
        }
    }

    @Test func aMissingIdOrKeyHashIsAnError() throws {
        try withUsersFile("users:\n  - roles: [dba]\nservice_accounts:\n  - id: ci\n    roles: [ci]\n") { path in
            let found = issues("users:\n  file: \(path)\n")
            #expect(found.map(\.keyPath) == ["users[0]", "service_accounts[0].api_key_hash"])
            #expect(found.first?.message == "an id is required")
            #expect(found.last?.message.contains("generate one with `helpdesk hash-key`") == true)
        }
    }

    @Test func aMalformedPasswordHashIsAnErrorAtItsLine() throws {
        try withUsersFile("users:\n  - id: ann\n    password_argon2id: \"$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\"\n") { path in
            let found = issues("users:\n  file: \(path)\n")
            #expect(found.map(\.keyPath) == ["users[0].password_argon2id"])
            #expect(found.first?.line == 3)
            #expect(found.first?.message == "not an Argon2id hash ($argon2i$ is not Argon2id); generate one with `helpdesk hash-key`")
        }
    }
}
