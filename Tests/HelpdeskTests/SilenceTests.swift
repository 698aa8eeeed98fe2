import Foundation
import HelpdeskAgents
import HelpdeskAlertmanagerAgent
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskHTTPClient
import HelpdeskOrchestrator
import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing
import Yams

/// Silences: built from the stored alert's labels, posted to the receiver's Alertmanager as API v2
/// expects, refused where no Alertmanager is configured, and decided by the gate like any write.
@Suite struct SilenceTests {
    /// Tuesday 2026-11-24 12:00 UTC.
    static let noon = Date(timeIntervalSince1970: 1_795_521_600)
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("templates/slack").path
    static let created = ScriptedTransport.Reply(#"{"silenceID": "4a1b7c3e-silence"}"#)
    /// SREs may silence; nobody else may do anything.
    static let policy = """
        version: "1"
        policies:
          - name: sre-silences
            principals: [{role: sre}]
            resources: [{type: alertmanager}]
            rules: [{action: write, effect: allow}]
        """

    static func agent(url: String? = "http://alertmanager:9093", transport: ScriptedTransport) -> AlertmanagerAgent {
        let receiver = AlertmanagerSettings.Receiver(name: "default", credentials: .none, url: url.flatMap { URL(string: $0) })
        return AlertmanagerAgent(receivers: [receiver], transport: transport, timeout: .seconds(5), now: { SilenceTests.noon })
    }

    static func silenceCall(_ labels: [String: String], duration: String = "1h", target: String = "default") -> ToolCall {
        ToolCall(tool: "create_silence", target: target, arguments: [
            "matchers": .string(JSONValue.object(labels.mapValues(JSONValue.string)).jsonText), "duration": .string(duration),
            "created_by": .string("alice"), "comment": .string("disk is being replaced"),
        ])
    }

    @Test func theRequestMatchesEveryLabelAndIsWhatAPIv2Expects() async throws {
        let transport = ScriptedTransport([Self.created])
        let output = try await Self.agent(transport: transport).run(Self.silenceCall(["alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"]))
        #expect(transport.requests.count == 1)
        let request = try #require(transport.requests.first)
        #expect(request.url.absoluteString == "http://alertmanager:9093/api/v2/silences")
        let body = try JSONValue(parsing: String(decoding: request.body, as: UTF8.self))
        func matcher(_ name: String, _ value: String) -> JSONValue {
            .object(["name": .string(name), "value": .string(value), "isRegex": .bool(false), "isEqual": .bool(true)])
        }
        #expect(body["matchers"] == .array([matcher("alertname", "DiskFull"), matcher("instance", "db1:9100"), matcher("severity", "critical")]))
        #expect(body["startsAt"] == .string("2026-11-24T12:00:00Z"))
        #expect(body["endsAt"] == .string("2026-11-24T13:00:00Z"))
        #expect(body["createdBy"] == .string("alice"))
        #expect(body["comment"] == .string("disk is being replaced"))
        #expect(output["silence_id"] == .string("4a1b7c3e-silence"))
        #expect(output["matchers"]?["instance"] == .string("db1:9100"))
    }

    @Test func withoutAURLOrWithBadArgumentsNothingIsAsked() async throws {
        let transport = ScriptedTransport([Self.created])
        let unconfigured = Self.agent(url: nil, transport: transport)
        #expect(!unconfigured.applies(to: "default"), "a receiver without a url is offered no silence")
        await #expect(throws: ToolError.self) { try await unconfigured.run(Self.silenceCall(["alertname": "DiskFull"])) }
        let agent = Self.agent(transport: transport)
        #expect(agent.applies(to: "default") && !agent.applies(to: "prod-db"))
        for bad in [Self.silenceCall(["alertname": "DiskFull"], duration: "30s"), Self.silenceCall(["alertname": "DiskFull"], duration: "8d"),
                    Self.silenceCall(["alertname": "DiskFull"], duration: "soon"), Self.silenceCall(["alertname": ""]), Self.silenceCall([:]),
                    Self.silenceCall(["alertname": "DiskFull"], target: "elsewhere")] {
            await #expect(throws: ToolError.self) { try await agent.run(bad) }
        }
        #expect(transport.requests.isEmpty, "a refused silence never reaches Alertmanager")
    }

    @Test func anAlertmanagerRefusalIsAToolError() async throws {
        let transport = ScriptedTransport([.init(status: 400, #""bad matchers""#)])
        await #expect(throws: ToolError.self) { try await Self.agent(transport: transport).run(Self.silenceCall(["alertname": "DiskFull"])) }
    }

    /// The gate, the store and a Slack context over the real agent and a scripted Alertmanager.
    struct Harness {
        let folder: TemporaryDirectory
        let store: SQLiteStore
        let transport: ScriptedTransport
        let governance: Governance
        let slack: SlackCommandContext

        init(replies: [ScriptedTransport.Reply] = [SilenceTests.created]) async throws {
            folder = try TemporaryDirectory()
            store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
            transport = ScriptedTransport(replies)
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            var directory = UserDirectory()
            directory.users = [.init(name: "alice", roles: ["sre"]), .init(name: "bob", roles: ["developer"])]
            let policies = PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: SilenceTests.policy).policies))
            let agents: [any Agent] = [SilenceTests.agent(transport: transport)]
            governance = Governance(policies: policies, store: store, agents: agents, inventory: Infrastructure(), directory: directory,
                                    redactor: Redactor(), defaultTTL: .seconds(3600), toolTimeout: .seconds(5), logger: logger)
            let orchestrator = Orchestrator(runbooks: [], gate: governance, inventory: Infrastructure(),
                                            options: .init(toolTimeout: .seconds(5), bundleDirectory: folder.file("b"), bundleRetention: .seconds(60)),
                                            store: store, logger: logger)
            let renderer = try await SlackRenderer(directory: SilenceTests.templates)
            slack = SlackCommandContext(orchestrator: orchestrator, governance: governance, store: store, directory: directory,
                                        renderer: renderer, commandName: "/helpdesk", clusters: [])
        }

        /// One stored firing alert of `receiver`, and its group's root message posted as ts 1700000000.000100 in C1.
        func receive(fingerprint: String = "a1b2c3d4e5f60718", receiver: String = "default") async throws {
            try await store.apply(ChangeSet(
                slackMessages: [OutboxMessage(channel: "C1", body: .object(["text": .string("root")]), threadKey: "alertgroup:g1", isRoot: true)],
                alerts: [AlertRecord(fingerprint: fingerprint, startsAt: "2026-11-24T11:50:00Z", status: "firing", groupKey: "g1", receiver: receiver,
                                     labels: .object(["alertname": .string("DiskFull"), "instance": .string("db1:9100")]),
                                     annotations: .object([:]), endsAt: nil, generatorURL: nil, receivedAt: Date(), onNew: [])]))
            for entry in try await store.slackOutbox.due(now: Date(), lease: .seconds(30), budgetPerMinute: 100) {
                try await store.slackOutbox.markSent(entry.id, version: entry.version, ts: "1700000000.000100", now: Date())
            }
        }

        func events(_ kind: String) async throws -> [AuditEvent] {
            try await store.audit.events(since: nil, limit: 1000).filter { $0.kind == kind }
        }

        func finish() async throws {
            try await store.close()
            folder.remove()
        }
    }

    @Test func theGateDecidesAsWhoeverAskedAndADeniedSilenceMakesNoCall() async throws {
        let harness = try await Harness()
        let call = Self.silenceCall(["alertname": "DiskFull"])
        #expect(harness.governance.resource(for: call).type == .alertmanager)
        #expect(harness.governance.resource(for: call).name == "default")
        let denied = try await harness.governance.request(call, by: harness.governance.principal(named: "bob"), via: "test")
        guard case .denied = denied else { Issue.record("bob may not silence: \(denied)"); return }
        #expect(harness.transport.requests.isEmpty, "a denied silence never reaches Alertmanager")
        let ran = try await harness.governance.request(call, by: harness.governance.principal(named: "alice"), via: "test")
        guard case .ran(let output, _) = ran else { Issue.record("alice may silence: \(ran)"); return }
        #expect(output["silence_id"] == .string("4a1b7c3e-silence"))
        #expect(harness.transport.requests.count == 1)
        let decisions = try await harness.events("policy_decision")
        #expect(decisions.map(\.principal) == ["bob", "alice"])
        let calls = try await harness.events("tool_call")
        #expect(calls.count == 1 && calls[0].principal == "alice" && calls[0].target == "default" && calls[0].data.contains("\"outcome\":\"ok\""))
        try await harness.finish()
    }

    @Test func silencingFromSlackUsesTheStoredLabelsAndRepliesInTheAlertsThread() async throws {
        let harness = try await Harness()
        try await harness.receive()
        let answer = try await harness.slack.silence(fingerprint: "a1b2c3d4e5f60718", duration: "2h", principal: harness.governance.principal(named: "alice"),
                                                     via: "slack-button", executionKey: "slack-button:1", inChannel: false)
        let request = try #require(harness.transport.requests.first)
        let body = try JSONValue(parsing: String(decoding: request.body, as: UTF8.self))
        #expect(body["matchers"]?.arrayValue?.compactMap { $0["name"]?.description } == ["alertname", "instance"])
        #expect(body["createdBy"] == .string("alice"))
        let reply = try #require(answer.thread.first)
        #expect(answer.thread.count == 1)
        #expect(reply.channel == "C1" && reply.threadKey == "alertgroup:g1" && !reply.isRoot)
        let text = reply.body["text"]?.description ?? ""
        #expect(text.contains("alice silenced") && text.contains("4a1b7c3e-silence") && text.contains("for 2h"))
        #expect(answer.message.jsonText.contains("Silenced DiskFull for 2h"))
        let calls = try await harness.events("tool_call")
        #expect(calls.count == 1 && calls[0].principal == "alice" && calls[0].data.contains("\"outcome\":\"ok\""))
        try await harness.finish()
    }

    @Test func fromSlackADeniedUnknownOrUnconfiguredSilenceIsRefusedAndAudited() async throws {
        let harness = try await Harness()
        try await harness.receive(fingerprint: "feedfeedfeedfeed", receiver: "no-url")
        try await harness.receive()
        let bob = try await harness.slack.silence(fingerprint: "a1b2c3d4e5f60718", duration: "1h", principal: harness.governance.principal(named: "bob"),
                                                  via: "slack", executionKey: "slack-command:1", inChannel: true)
        #expect(bob.thread.isEmpty && bob.message.jsonText.contains("Not allowed"))
        let unknown = try await harness.slack.silence(fingerprint: "0000000000000000", duration: "1h", principal: harness.governance.principal(named: "alice"),
                                                      via: "slack", executionKey: "slack-command:2", inChannel: true)
        #expect(unknown.thread.isEmpty && unknown.message.jsonText.contains("No alert 0000000000000000"))
        let unconfigured = try await harness.slack.silence(fingerprint: "feedfeedfeedfeed", duration: "1h",
                                                           principal: harness.governance.principal(named: "alice"), via: "slack",
                                                           executionKey: "slack-command:3", inChannel: true)
        #expect(unconfigured.thread.isEmpty && unconfigured.message.jsonText.contains("alertmanager.receivers.no-url.url"))
        let badDuration = try await harness.slack.silence(fingerprint: "a1b2c3d4e5f60718", duration: "forever",
                                                          principal: harness.governance.principal(named: "alice"), via: "slack",
                                                          executionKey: "slack-command:4", inChannel: true)
        #expect(badDuration.thread.isEmpty && badDuration.message.jsonText.contains("is not a duration"))
        #expect(harness.transport.requests.isEmpty, "nothing reached Alertmanager")
        let refused = try await harness.events("tool_call")
        #expect(refused.count == 1 && refused[0].target == "no-url" && refused[0].data.contains("\"outcome\":\"denied\""))
        try await harness.finish()
    }

    @Test func theButtonAndTheCommandAreParsed() async throws {
        let button = SilenceButton(fingerprint: "a1b2c3d4e5f60718")
        #expect(button.value == #"{"duration":"1h","fingerprint":"a1b2c3d4e5f60718"}"#)
        #expect(SilenceButton(value: button.value) == button)
        #expect(SilenceButton(value: #"{"tool":"scale"}"#) == nil)
        #expect(CommandRequest(text: "silence a1b2c3d4e5f60718 2h") == .silence(alertID: "a1b2c3d4e5f60718", duration: "2h"))
        #expect(CommandRequest(text: "silence a1b2c3d4e5f60718") == .unknown("silence a1b2c3d4e5f60718"))
        let payload = try JSONValue(parsing: """
            {"type": "block_actions", "user": {"id": "U1", "team_id": "T1"}, "response_url": "https://hooks.slack.com/actions/x",
             "actions": [{"action_id": "silence", "value": \(JSONValue.string(button.value).jsonText), "action_ts": "1.2"}]}
            """)
        let action = try #require(BlockAction(payload: payload))
        #expect(action.kind == .silence && SilenceButton(value: action.value) == button)
    }

    @Test func aFiringRootCarriesTheButtonAResolvedOneDoesNot() async throws {
        let renderer = try await SlackRenderer(directory: Self.templates)
        let button = SilenceButton(fingerprint: "a1b2c3d4e5f60718")
        let firing = SlackViews.alertRoot(renderer, alertname: "DiskFull", severity: "critical", target: "db1", status: "firing", summary: nil,
                                          link: nil, alerts: 1, started: "2026-11-24T11:50:00Z", silence: button)
        let blocks = try #require(firing["blocks"]?.arrayValue)
        let actions = try #require(blocks.first { $0["type"] == .string("actions") })
        let element = try #require(actions["elements"]?.arrayValue?.first)
        #expect(element["action_id"] == .string("silence"))
        #expect(element["value"] == .string(button.value))
        #expect(element.value(at: "text.text") == .string("Silence 1h"))
        let resolved = SlackViews.alertRoot(renderer, alertname: "DiskFull", severity: "critical", target: "db1", status: "resolved", summary: nil,
                                            link: nil, alerts: 1, started: "2026-11-24T11:50:00Z", silence: button)
        #expect(resolved["blocks"]?.arrayValue?.contains { $0["type"] == .string("actions") } == false)
    }

    @Test func theReceiverURLIsReadFromTheConfiguration() throws {
        let configuration = try HelpdeskConfiguration(yaml: """
            alertmanager:
              receivers:
                default:
                  auth: none
                  url: http://alertmanager:9093
                other:
                  auth: none
            """, file: "test.yaml")
        let receivers = configuration.alertmanager.receivers
        #expect(receivers.first { $0.name == "default" }?.url?.absoluteString == "http://alertmanager:9093")
        #expect(receivers.first { $0.name == "other" }?.url == nil)
        #expect(throws: ConfigError.self) {
            _ = try HelpdeskConfiguration(yaml: "alertmanager:\n  receivers:\n    default:\n      auth: none\n      url: ftp://am\n", file: "test.yaml")
        }
    }
}
