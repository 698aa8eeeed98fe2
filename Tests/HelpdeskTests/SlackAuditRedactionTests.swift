import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskOrchestrator
import HelpdeskServer
import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// A slash command's text is recorded in the audit log, which keeps it forever in the hash chain:
/// a token or `password=…` pasted into it must be masked before it gets there.
@Suite struct SlackAuditRedactionTests {
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("templates/slack").path

    @Test func slashCommandTextIsRedactedInTheAuditLog() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        var dependencies = harness.dependencies
        let engine = try #require(dependencies.engine)
        let governance = try #require(dependencies.governance)
        let secret = Secret("slack-signing-secret-for-tests")
        dependencies.slackSigningSecret = secret
        let renderer = try await SlackRenderer(directory: Self.templates)
        dependencies.slack = SlackCommandContext(orchestrator: engine.orchestrator, governance: governance, store: harness.store,
                                                 directory: UserDirectory(), renderer: renderer, commandName: "/helpdesk", clusters: [])
        let redactor = Redactor()
        redactor.register([Secret("configured-smtp-password")])
        dependencies.redactor = redactor
        let body = "team_id=T1&channel_id=C1&user_id=U1&command=%2Fhelpdesk&trigger_id=1.2.3"
            + "&text=diagnose+prod-db+password%3Dhunter22+xoxb-1234567890-abcdefghij+configured-smtp-password"
            + "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx"
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let signature = SlackSignature.sign(body: Array(body.utf8), timestamp: timestamp, secret: secret)
        try await Application(router: buildRouter(dependencies)).test(.router) { client in
            let response = try await client.execute(
                uri: "/slack/commands", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", HTTPField.Name("X-Slack-Request-Timestamp")!: timestamp,
                          HTTPField.Name("X-Slack-Signature")!: signature],
                body: ByteBuffer(string: body))
            #expect(response.status == .ok)
        }
        let received = try await harness.store.audit.events(since: nil, limit: 100).filter { $0.kind == "request_received" }
        #expect(received.count == 1)
        let data = try #require(received.first?.data)
        #expect(data.contains("diagnose prod-db"), "the rest of the command is kept: \(data)")
        for secretText in ["hunter22", "xoxb-1234567890", "configured-smtp-password"] {
            #expect(!data.contains(secretText), "\(secretText) reached the audit log: \(data)")
        }
        try await harness.store.close()
    }
}
