import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskTestSupport
import Testing

@Suite struct ConfigurationTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private func issues(_ yaml: String, environment: [String: String] = [:]) -> [ConfigIssue] {
        configurationIssues(yaml, environment: environment)
    }

    @Test func shippedExampleLoads() throws {
        let path = Self.repositoryRoot + "/helpdesk.example.yaml"
        // The example names secret files that do not exist here; supply the secrets from the environment instead.
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("_file:") }
            .joined(separator: "\n")
        let configuration = try HelpdeskConfiguration(yaml: text, file: path, environment: [
            "SLACK_SIGNING_SECRET": "s3cret-signing", "HELPDESK_API_OPS_AUTOMATION_TOKEN": "token-1234",
            "HELPDESK_ALERTMANAGER_HELPDESK_BEARER_TOKEN": "am-token-1234",
        ])
        #expect(configuration.server.listen == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(configuration.jobs.maxAttempts == 8)
        #expect(configuration.infrastructure.dbServers.map(\.id) == ["prod-db", "analytics-db"])
        #expect(configuration.infrastructure.dbServers[0].k8sNamespace == "orders")
        #expect(configuration.infrastructure.k8sClusters.first?.context == "prod")
        #expect(configuration.slack.signingSecret?.reveal() == "s3cret-signing")
        #expect(configuration.alertmanager.receivers.map(\.name) == ["helpdesk"])
        #expect(configuration.api.tokens.map(\.principal) == ["ops-automation"])
        #expect(configuration.diagnosis.bundleRetention == .seconds(30 * 86400))
    }

    @Test func emptyFileGivesDefaults() throws {
        let configuration = try HelpdeskConfiguration(yaml: "", file: "test.yaml", environment: ["HOME": "/home/ann"])
        #expect(configuration.server.listen.description == "127.0.0.1:8080")
        #expect(configuration.server.maxBodyBytes == 1_048_576)
        #expect(configuration.store.path == "/home/ann/.local/state/helpdesk/helpdesk.sqlite")
        #expect(configuration.llm.provider == .none)
    }

    @Test func unknownKeyIsReportedWithFileLineAndPath() {
        let found = issues("server:\n  listen: 127.0.0.1:9000\n  lisen: 1\n")
        #expect(found.count == 1)
        #expect(found.first?.line == 3)
        #expect(found.first?.keyPath == "server.lisen")
        #expect(found.first?.description.hasPrefix("test.yaml:3: server.lisen: unknown key; expected one of:") == true)
    }

    @Test func unknownSectionIsReported() {
        #expect(issues("servre:\n  listen: x\n").map(\.keyPath) == ["servre"])
    }

    @Test func wrongTypeNamesWhatWasExpected() {
        let found = issues("jobs:\n  concurrency: lots\n")
        #expect(found.map(\.keyPath) == ["jobs.concurrency"])
        #expect(found.first?.message == "expected a whole number from 1 to 256, got \"lots\"")
        #expect(issues("server: [1, 2]\n").first?.message == "expected a mapping of keys, got a list")
        #expect(issues("jobs:\n  lease: 90 minutes\n").map(\.keyPath) == ["jobs.lease"])
    }

    @Test func badURLIsRejected() {
        let found = issues("slack:\n  api_base_url: not a url\nsmtp:\n  url: http://mail.example.org\n")
        #expect(found.map(\.keyPath) == ["slack.api_base_url", "smtp.url"])
        #expect(found.last?.message == "expected an absolute URL starting with smtp:// or smtps://, got \"http://mail.example.org\"")
    }

    @Test func badListenAddressIsRejected() {
        #expect(issues("server:\n  listen: localhost\n").first?.message.contains("expected HOST:PORT") == true)
        #expect(issues("server:\n  listen: 127.0.0.1:70000\n").map(\.keyPath) == ["server.listen"])
        #expect(ListenAddress(parsing: "[::1]:8080") == ListenAddress(host: "::1", port: 8080))
    }

    @Test func everyProblemIsReportedAtOnce() {
        let found = issues("server:\n  listen: nope\njobs:\n  max_attempts: 0\nextra: 1\n")
        #expect(found.map(\.keyPath) == ["server.listen", "jobs.max_attempts", "extra"])
    }

    @Test func malformedYAMLGivesTheLine() {
        let found = issues("server:\n  listen: [unclosed\n")
        #expect(found.count == 1)
        #expect(found.first?.line != nil)
        #expect(found.first?.message.hasPrefix("not valid YAML") == true)
    }

    @Test func inlineSecretIsRefusedWithWhereToPutIt() {
        let found = issues("slack:\n  bot_token: xoxb-123-456\n")
        #expect(found.map(\.keyPath) == ["slack.bot_token"])
        #expect(found.first?.message == "secrets are not read from the configuration file; set SLACK_BOT_TOKEN or slack.bot_token_file")
        #expect(found.first?.description.contains("xoxb-123-456") == false)
    }

    @Test func secretsComeFromEnvironmentOrFile() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let tokenFile = try folder.write("token", "xoxb-from-file\n")
        let fromFile = try HelpdeskConfiguration(yaml: "slack:\n  bot_token_file: \(tokenFile)\n", file: "test.yaml")
        #expect(fromFile.slack.botToken?.reveal() == "xoxb-from-file")
        let fromEnvironment = try HelpdeskConfiguration(yaml: "slack:\n  bot_token_file: \(tokenFile)\n", file: "test.yaml",
                                                        environment: ["SLACK_BOT_TOKEN": "xoxb-from-env"])
        #expect(fromEnvironment.slack.botToken?.reveal() == "xoxb-from-env")
        #expect(fromEnvironment.secrets.map { $0.reveal() } == ["xoxb-from-env"])
        let missing = issues("smtp:\n  password_file: \(folder.file("absent"))\n")
        #expect(missing.map(\.keyPath) == ["smtp.password_file"])
        #expect(missing.first?.message.contains("No such file or directory") == true)
    }

    @Test func environmentOverridesSectionSettings() throws {
        let configuration = try HelpdeskConfiguration(yaml: "server:\n  listen: 127.0.0.1:9000\n", file: "test.yaml",
                                                      environment: ["HELPDESK_SERVER_LISTEN": "0.0.0.0:9100", "HELPDESK_JOBS_CONCURRENCY": "7"])
        #expect(configuration.server.listen.description == "0.0.0.0:9100")
        #expect(configuration.jobs.concurrency == 7)
        let bad = issues("", environment: ["HELPDESK_JOBS_LEASE": "forever"])
        #expect(bad.first?.source == "environment HELPDESK_JOBS_LEASE")
        #expect(bad.first?.keyPath == "jobs.lease")
    }

    @Test func inventoryReferencesMustExist() {
        let yaml = """
            infrastructure:
              db_servers:
                orders:
                  connection_string: host=db
                  k8s_cluster: nowhere
                  vm_name: ghost
                broken:
                  tags: [x]
            """
        let found = issues(yaml)
        #expect(found.map(\.keyPath) == [
            "infrastructure.db_servers.orders.k8s_cluster",
            "infrastructure.db_servers.orders.vm_name",
            "infrastructure.db_servers.broken.connection_string",
        ])
    }

    @Test func slackMembersMapToUsersWithinTheirWorkspace() throws {
        let configuration = try HelpdeskConfiguration(yaml: """
            users:
              alice: {roles: [dba], slack_user_id: U1, slack_team_id: T1}
              bob: {roles: [sre], slack_user_id: U2}
            """, file: "test.yaml")
        #expect(configuration.directory.user(slackUserID: "U1", teamID: "T1")?.name == "alice")
        #expect(configuration.directory.user(slackUserID: "U1", teamID: "T2") == nil, "same member id, other workspace")
        #expect(configuration.directory.user(slackUserID: "U2", teamID: "T9")?.roles == ["sre"])
        #expect(configuration.directory.user(slackUserID: "U3", teamID: "T1") == nil)
    }
}
