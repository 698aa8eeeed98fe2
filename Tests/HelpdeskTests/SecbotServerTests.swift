import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskServer
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Prometheus
import Testing

/// secbot inside the real server (`HelpdeskServer.run`, as `helpdesk serve` runs it): a write appended
/// through the store's own API — the chain intact, so only an approval-less write explains it — is
/// reported in the security channel while the server runs.
@Suite struct SecbotServerTests {
    @Test func anApprovalLessWriteBesideARunningServerIsReportedInTheSecurityChannel() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let configuration = try HelpdeskConfiguration(yaml: """
            store: {path: \(folder.file("hd.sqlite"))}
            server: {listen: "127.0.0.1:0"}
            diagnosis: {bundles_dir: \(folder.file("bundles"))}
            secbot: {enabled: true, poll_interval: 100ms}
            """, file: "helpdesk.yaml")
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let running = AsyncStream<Void>.makeStream()
        let server = Task {
            try await HelpdeskServer.run(configuration: configuration, store: store, registry: PrometheusCollectorRegistry(),
                                         redactor: Redactor(), environment: [:], logger: logger,
                                         onRunning: { _, _ in running.continuation.yield() })
        }
        defer { server.cancel() }
        for await _ in running.stream { break }

        try await store.apply(ChangeSet(audit: [AuditDraft(kind: "tool_call", principal: "mallory", target: "prod-db", data: .object([
            "call": .object(["tool": .string("terminate_backend"), "target": .string("prod-db"), "action": .string("destructive"),
                             "arguments": .object(["pid": .number(4242)])]),
            "outcome": .string("ok"), "milliseconds": .number(3),
        ]))]))
        let reported = await eventually(timeout: .seconds(60)) {
            try await !store.audit.latest(AuditFilter(kind: "security_detection", target: "unauthorized_destructive:mallory"), limit: 1).isEmpty
        }
        #expect(reported)
        // Slack is off and the web channel on: the security channel is the web channel's, delivered as stored.
        let feed = try await store.slackOutbox.entries(channel: OutboxMessage.webChannel)
        #expect(feed.contains { $0.state == "sent" })
        let incidents = try await store.incidents.list(limit: 10)
        #expect(incidents.contains { $0.trigger == "secbot: unauthorized_destructive" && $0.target == "mallory" })
        #expect(try await store.audit.verify().ok, "the chain is intact: nothing but the write explains the report")
        server.cancel()
        _ = await server.result
    }
}
