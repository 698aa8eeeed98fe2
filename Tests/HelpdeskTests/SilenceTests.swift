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

    /// Receivers `default` (at `url`) and `other`, each with its own Alertmanager.
    static func agent(url: String? = "http://alertmanager:9093", transport: ScriptedTransport) -> AlertmanagerAgent {
        let receiver = AlertmanagerSettings.Receiver(name: "default", credentials: .none, url: url.flatMap { URL(string: $0) })
        let other = AlertmanagerSettings.Receiver(name: "other", credentials: .none, url: URL(string: "http://alertmanager-other:9093"))
        return AlertmanagerAgent(receivers: [receiver, other], transport: transport, timeout: .seconds(5), now: { SilenceTests.noon })
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

    /// The gate, a store of `kind` and a Slack context over the real agent and a scripted Alertmanager.
    struct Harness {
        let folder: TemporaryDirectory
        let store: any Store
        let transport: ScriptedTransport
        let governance: Governance
        let orchestrator: Orchestrator
        let slack: SlackCommandContext

        init(_ kind: StoreKind = .sqlite, replies: [ScriptedTransport.Reply] = [SilenceTests.created]) async throws {
            folder = try TemporaryDirectory()
            store = try await TemporaryStoreLocation.fresh(kind, in: folder).open()
            transport = ScriptedTransport(replies)
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            var directory = UserDirectory()
            directory.users = [.init(name: "alice", roles: ["sre"]), .init(name: "bob", roles: ["developer"])]
            let policies = PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: SilenceTests.policy).policies))
            let agents: [any Agent] = [SilenceTests.agent(transport: transport)]
            governance = Governance(policies: policies, store: store, agents: agents, inventory: Infrastructure(), directory: directory,
                                    redactor: Redactor(), defaultTTL: .seconds(3600), toolTimeout: .seconds(5), logger: logger)
            orchestrator = Orchestrator(runbooks: [], gate: governance, inventory: Infrastructure(),
                                            options: .init(toolTimeout: .seconds(5), bundleDirectory: folder.file("b"), bundleRetention: .seconds(60)),
                                            store: store, logger: logger)
            let renderer = try await SlackRenderer(directory: SilenceTests.templates)
            slack = SlackCommandContext(orchestrator: orchestrator, governance: governance, store: store, directory: directory,
                                        renderer: renderer, commandName: "/helpdesk", clusters: [])
        }

        /// One stored alert of `receiver`, and its group's root message posted as ts 1700000000.000100 in C1.
        func receive(fingerprint: String = "a1b2c3d4e5f60718", receiver: String = "default", startsAt: String = "2026-11-24T11:50:00Z",
                     status: String = "firing", group: String = "g1", receivedAt: Date = Date(),
                     labels: [String: String] = ["alertname": "DiskFull", "instance": "db1:9100"]) async throws {
            try await store.apply(ChangeSet(
                slackMessages: [OutboxMessage(channel: "C1", body: .object(["text": .string("root")]), threadKey: "alertgroup:\(group)", isRoot: true)],
                alerts: [AlertRecord(fingerprint: fingerprint, startsAt: startsAt, status: status, groupKey: group, receiver: receiver,
                                     labels: .object(labels.mapValues(JSONValue.string)),
                                     annotations: .object([:]), endsAt: nil, generatorURL: nil, receivedAt: receivedAt, onNew: [])]))
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

    @Test(arguments: StoreKind.allCases)
    func theGateDecidesAsWhoeverAskedAndADeniedSilenceMakesNoCall(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
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

    @Test(arguments: StoreKind.allCases)
    func silencingFromSlackUsesTheStoredLabelsAndRepliesInTheAlertsThread(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        try await harness.receive()
        let answer = try await harness.slack.silence(AlertReference(fingerprint: "a1b2c3d4e5f60718"), duration: "2h", principal: harness.governance.principal(named: "alice"),
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

    @Test(arguments: StoreKind.allCases)
    func fromSlackADeniedUnknownOrUnconfiguredSilenceIsRefusedAndAudited(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        try await harness.receive(fingerprint: "feedfeedfeedfeed", receiver: "no-url")
        try await harness.receive()
        let bob = try await harness.slack.silence(AlertReference(fingerprint: "a1b2c3d4e5f60718"), duration: "1h", principal: harness.governance.principal(named: "bob"),
                                                  via: "slack", executionKey: "slack-command:1", inChannel: true)
        #expect(bob.thread.isEmpty && bob.message.jsonText.contains("Not allowed"))
        let unknown = try await harness.slack.silence(AlertReference(fingerprint: "0000000000000000"), duration: "1h", principal: harness.governance.principal(named: "alice"),
                                                      via: "slack", executionKey: "slack-command:2", inChannel: true)
        #expect(unknown.thread.isEmpty && unknown.message.jsonText.contains("No alert 0000000000000000"))
        let unconfigured = try await harness.slack.silence(AlertReference(fingerprint: "feedfeedfeedfeed"), duration: "1h",
                                                           principal: harness.governance.principal(named: "alice"), via: "slack",
                                                           executionKey: "slack-command:3", inChannel: true)
        #expect(unconfigured.thread.isEmpty && unconfigured.message.jsonText.contains("alertmanager.receivers.no-url.url"))
        let badDuration = try await harness.slack.silence(AlertReference(fingerprint: "a1b2c3d4e5f60718"), duration: "forever",
                                                          principal: harness.governance.principal(named: "alice"), via: "slack",
                                                          executionKey: "slack-command:4", inChannel: true)
        #expect(badDuration.thread.isEmpty && badDuration.message.jsonText.contains("is not a duration"))
        #expect(harness.transport.requests.isEmpty, "nothing reached Alertmanager")
        let refused = try await harness.events("tool_call")
        #expect(refused.count == 1 && refused[0].target == "no-url" && refused[0].data.contains("\"outcome\":\"denied\""))
        try await harness.finish()
    }

    @Test(arguments: StoreKind.allCases)
    func anAlertIsFoundByFingerprintReceiverAndEpisode(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        let earlier = Date().addingTimeInterval(-60)
        try await harness.receive(receiver: "default", startsAt: "2026-11-24T11:50:00Z", receivedAt: earlier)
        try await harness.receive(receiver: "other", startsAt: "2026-11-24T11:55:00Z", group: "g2")
        let alerts = harness.store.alerts
        let atDefault = try #require(try await alerts.instance(fingerprint: "a1b2c3d4e5f60718", receiver: "default", startsAt: "2026-11-24T11:50:00Z"))
        #expect(atDefault.receiver == "default" && atDefault.groupKey == "g1")
        #expect(try await alerts.instance(fingerprint: "a1b2c3d4e5f60718", receiver: "other", startsAt: "2026-11-24T11:55:00Z")?.groupKey == "g2")
        #expect(try await alerts.instance(fingerprint: "a1b2c3d4e5f60718", receiver: "other", startsAt: "2026-11-24T11:50:00Z") == nil,
                "another receiver's episode is not this one")
        #expect(try await alerts.instance(fingerprint: "a1b2c3d4e5f60718", receiver: "nobody", startsAt: "2026-11-24T11:50:00Z") == nil)
        #expect(try await alerts.latestPerReceiver(fingerprint: "a1b2c3d4e5f60718").map(\.receiver) == ["other", "default"], "newest first")
        // A later episode and its resolution at `default`: still one entry per receiver, the newest record.
        try await harness.receive(receiver: "default", startsAt: "2026-11-24T12:05:00Z", group: "g3", receivedAt: Date().addingTimeInterval(1))
        try await harness.receive(receiver: "default", startsAt: "2026-11-24T12:05:00Z", status: "resolved", group: "g3",
                                  receivedAt: Date().addingTimeInterval(2))
        let latest = try await alerts.latestPerReceiver(fingerprint: "a1b2c3d4e5f60718")
        #expect(latest.map(\.receiver) == ["default", "other"])
        #expect(latest.first?.startsAt == "2026-11-24T12:05:00Z" && latest.first?.status == "resolved")
        #expect(try await alerts.latestPerReceiver(fingerprint: "0000000000000000").isEmpty)
        try await harness.finish()
    }

    @Test(arguments: StoreKind.allCases)
    func aFingerprintSeveralReceiversGotIsRefusedWithTheChoicesAndFingerprintAtReceiverPicksOne(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        try await harness.receive(receiver: "default", startsAt: "2026-11-24T11:50:00Z", receivedAt: Date().addingTimeInterval(-60))
        try await harness.receive(receiver: "other", startsAt: "2026-11-24T11:55:00Z", group: "g2")
        let alice = harness.governance.principal(named: "alice")
        let ambiguous = try await harness.slack.silence(AlertReference(fingerprint: "a1b2c3d4e5f60718"), duration: "1h", principal: alice,
                                                        via: "slack", executionKey: "slack-command:1", inChannel: true)
        let text = ambiguous.message.jsonText
        #expect(text.contains("reached 2 receivers") && text.contains("`a1b2c3d4e5f60718@other`") && text.contains("`a1b2c3d4e5f60718@default`"))
        #expect(text.contains("/helpdesk silence a1b2c3d4e5f60718@other 1h"), "the hint is a command that works")
        #expect(ambiguous.thread.isEmpty && harness.transport.requests.isEmpty, "an ambiguous silence asks nothing")
        #expect(try await harness.events("policy_decision").isEmpty)
        #expect(try await harness.events("tool_call").isEmpty)

        let chosen = try await harness.slack.silence(try #require(AlertReference(text: "a1b2c3d4e5f60718@default")), duration: "1h", principal: alice,
                                                     via: "slack", executionKey: "slack-command:2", inChannel: true)
        #expect(chosen.message.jsonText.contains("Silenced DiskFull for 1h"))
        #expect(harness.transport.requests.map(\.url.absoluteString) == ["http://alertmanager:9093/api/v2/silences"],
                "default's Alertmanager, though other got the alert later")
        #expect(chosen.thread.map(\.threadKey) == ["alertgroup:g1"], "told in default's thread")
        let calls = try await harness.events("tool_call")
        #expect(calls.count == 1 && calls[0].target == "default")

        let missing = try await harness.slack.silence(try #require(AlertReference(text: "a1b2c3d4e5f60718@nobody")), duration: "1h", principal: alice,
                                                      via: "slack", executionKey: "slack-command:3", inChannel: true)
        #expect(missing.message.jsonText.contains("No alert a1b2c3d4e5f60718@nobody"))
        #expect(harness.transport.requests.count == 1)
        try await harness.finish()
    }

    @Test(arguments: StoreKind.allCases)
    func theButtonSilencesTheInstanceItWasPostedForAndAnOldButtonIsAFingerprintAlone(kind: StoreKind) async throws {
        let harness = try await Harness(kind, replies: [Self.created, Self.created])
        try await harness.receive(receiver: "default", startsAt: "2026-11-24T11:50:00Z", receivedAt: Date().addingTimeInterval(-60))
        try await harness.receive(receiver: "other", startsAt: "2026-11-24T11:55:00Z", group: "g2")
        let alice = harness.governance.principal(named: "alice")
        let button = SilenceButton(fingerprint: "a1b2c3d4e5f60718", receiver: "other", startsAt: "2026-11-24T11:55:00Z")
        let clicked = try await harness.slack.silence(try #require(SilenceButton(value: button.value)).alert, duration: button.duration,
                                                      principal: alice, via: "slack-button", executionKey: "slack-button:1", inChannel: false)
        #expect(clicked.message.jsonText.contains("Silenced DiskFull for 1h"))
        #expect(harness.transport.requests.map(\.url.absoluteString) == ["http://alertmanager-other:9093/api/v2/silences"])
        #expect(clicked.thread.map(\.threadKey) == ["alertgroup:g2"])
        // An episode the receiver never got (or one pruned) is not silenced in another's place.
        let stale = SilenceButton(fingerprint: "a1b2c3d4e5f60718", receiver: "other", startsAt: "2026-11-24T11:50:00Z")
        let refused = try await harness.slack.silence(stale.alert, duration: "1h", principal: alice, via: "slack-button",
                                                      executionKey: "slack-button:2", inChannel: false)
        #expect(refused.message.jsonText.contains("No alert a1b2c3d4e5f60718@other") && refused.thread.isEmpty)
        let legacy = try #require(SilenceButton(value: #"{"duration":"1h","fingerprint":"a1b2c3d4e5f60718"}"#))
        let ambiguous = try await harness.slack.silence(legacy.alert, duration: legacy.duration, principal: alice, via: "slack-button",
                                                        executionKey: "slack-button:3", inChannel: false)
        #expect(ambiguous.message.jsonText.contains("reached 2 receivers"))
        #expect(harness.transport.requests.count == 1)
        try await harness.finish()
    }

    @Test(arguments: StoreKind.allCases)
    func theThreadReplyEscapesTheAlertsLabels(kind: StoreKind) async throws {
        let harness = try await Harness(kind)
        try await harness.receive(labels: ["alertname": "<!channel> Disk & <@U1>", "instance": "<https://evil.example|db1>"])
        let answer = try await harness.slack.silence(AlertReference(fingerprint: "a1b2c3d4e5f60718"), duration: "1h",
                                                     principal: harness.governance.principal(named: "alice"), via: "slack",
                                                     executionKey: "slack-command:1", inChannel: true)
        let reply = try #require(answer.thread.first?.body["text"]?.description)
        #expect(reply.hasPrefix(":mute: alice silenced *&lt;!channel&gt; Disk &amp; &lt;@U1&gt;* for 1h"))
        #expect(reply.contains(#"instance="&lt;https://evil.example|db1&gt;""#))
        #expect(!reply.contains("<") && !reply.contains(">"), "\(reply)")
        for text in [answer.message["text"]?.description ?? ""] + (answer.message["blocks"]?.arrayValue ?? []).compactMap({ $0.value(at: "text.text")?.description }) {
            #expect(!text.contains("<!channel>") && !text.contains("<@U1>") && !text.contains("<https"), "\(text)")
        }
        // What Alertmanager is sent is the labels as they are.
        let body = try JSONValue(parsing: String(decoding: try #require(harness.transport.requests.first).body, as: UTF8.self))
        #expect(body["matchers"]?.arrayValue?.first?["value"] == .string("<!channel> Disk & <@U1>"))
        try await harness.finish()
    }

    @Test func theButtonAndTheCommandAreParsed() async throws {
        let button = SilenceButton(fingerprint: "a1b2c3d4e5f60718", receiver: "default", startsAt: "2026-11-24T11:50:00Z")
        #expect(button.value == #"{"duration":"1h","fingerprint":"a1b2c3d4e5f60718","receiver":"default","starts_at":"2026-11-24T11:50:00Z"}"#)
        #expect(SilenceButton(value: button.value) == button)
        #expect(button.alert == AlertReference(fingerprint: "a1b2c3d4e5f60718", receiver: "default", startsAt: "2026-11-24T11:50:00Z"))
        // A receiver that needs JSON escaping comes back as it went (the value is JSON, not mrkdwn).
        let odd = SilenceButton(fingerprint: "a1b2c3d4e5f60718", receiver: "team \"db\" & <ops>", startsAt: "2026-11-24T11:50:00.123+01:00", duration: "2h")
        #expect(SilenceButton(value: odd.value) == odd)
        // Posted before buttons carried the receiver: read as a fingerprint alone.
        let legacy = try #require(SilenceButton(value: #"{"duration":"1h","fingerprint":"a1b2c3d4e5f60718"}"#))
        #expect(legacy.alert == AlertReference(fingerprint: "a1b2c3d4e5f60718") && legacy.receiver == nil && legacy.startsAt == nil)
        #expect(SilenceButton(value: #"{"tool":"scale"}"#) == nil)
        #expect(SilenceButton(value: #"{"duration":"1h","fingerprint":"a1b2c3d4e5f60718","receiver":""}"#) == nil)
        #expect(CommandRequest(text: "silence a1b2c3d4e5f60718 2h") == .silence(alert: AlertReference(fingerprint: "a1b2c3d4e5f60718"), duration: "2h"))
        #expect(CommandRequest(text: "silence a1b2c3d4e5f60718@other 2h")
                == .silence(alert: AlertReference(fingerprint: "a1b2c3d4e5f60718", receiver: "other"), duration: "2h"))
        #expect(CommandRequest(text: "silence a1b2c3d4e5f60718@team@eu 2h")
                == .silence(alert: AlertReference(fingerprint: "a1b2c3d4e5f60718", receiver: "team@eu"), duration: "2h"))
        #expect(CommandRequest(text: "silence @other 2h") == .unknown("silence @other 2h"))
        #expect(CommandRequest(text: "silence a1b2c3d4e5f60718@ 2h") == .unknown("silence a1b2c3d4e5f60718@ 2h"))
        #expect(CommandRequest(text: "silence a1b2c3d4e5f60718") == .unknown("silence a1b2c3d4e5f60718"))
        #expect(AlertReference(fingerprint: "a1b2c3d4e5f60718", receiver: "other").description == "a1b2c3d4e5f60718@other")
        let payload = try JSONValue(parsing: """
            {"type": "block_actions", "user": {"id": "U1", "team_id": "T1"}, "response_url": "https://hooks.slack.com/actions/x",
             "actions": [{"action_id": "silence", "value": \(JSONValue.string(button.value).jsonText), "action_ts": "1.2"}]}
            """)
        let action = try #require(BlockAction(payload: payload))
        #expect(action.kind == .silence && SilenceButton(value: action.value) == button)
    }

    @Test func aFiringRootCarriesTheButtonAResolvedOneDoesNot() async throws {
        let renderer = try await SlackRenderer(directory: Self.templates)
        let button = SilenceButton(fingerprint: "a1b2c3d4e5f60718", receiver: "default", startsAt: "2026-11-24T11:50:00Z")
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
