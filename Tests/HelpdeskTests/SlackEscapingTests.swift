import Foundation
import HelpdeskAgents
import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskJobs
@testable import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing

/// Text from outside (alert labels and annotations, what people type, tool output) reaches Slack
/// escaped: `<!channel>`, `<@U1>` and `<https://…|link>` show as typed, `&` as `&`, in every kind
/// of message; cuts count the escaped length; button values come back as they went.
@Suite struct SlackEscapingTests {
    static let hostile = "<!channel> disk & <@U1> <https://evil.example|here>"
    static let escaped = "&lt;!channel&gt; disk &amp; &lt;@U1&gt; &lt;https://evil.example|here&gt;"

    /// Every string in a message, keys aside.
    static func strings(_ value: JSONValue) -> [String] {
        switch value {
        case .string(let text): [text]
        case .array(let items): items.flatMap(strings)
        case .object(let object): object.values.flatMap(strings)
        default: []
        }
    }

    /// Nothing in `message` mentions or links: every `<` Slack would read is an entity (but for the
    /// bot's own `<URL|source>` link, whose address is escaped too).
    static func expectInert(_ message: JSONValue, except values: Set<String> = [], sourceLocation: SourceLocation = #_sourceLocation) {
        for original in strings(message) where !values.contains(original) {
            let text = original.replacing(#/<https?://[^<>|]*\|source>/#, with: "")
            #expect(!text.contains("<") && !text.contains(">"), "\(text)", sourceLocation: sourceLocation)
            #expect(!text.replacingOccurrences(of: "&amp;", with: "").replacingOccurrences(of: "&lt;", with: "")
                .replacingOccurrences(of: "&gt;", with: "").contains("&"), "a bare & in \(text)", sourceLocation: sourceLocation)
        }
    }

    @Test func mrkdwnEscapesMentionsLinksAndAmpersandsScalarByScalar() {
        #expect(Mrkdwn.escaped(Self.hostile) == Self.escaped)
        #expect(Mrkdwn.escaped("plain *bold* `code`") == "plain *bold* `code`")
        // A combining mark makes "<\u{301}" one Character; the scalar is escaped all the same.
        #expect(!Mrkdwn.escaped("<\u{301}!here>").unicodeScalars.contains("<"))
        let alertname = "<!channel>", count = 3
        let note: Mrkdwn = "*\(alertname)* fired `\(count)` times & more"
        #expect(note.text == "*&lt;!channel&gt;* fired `3` times & more", "interpolated values are escaped, the bot's own literals kept")
        #expect(note.messageBody == .object(["text": .string(note.text)]))
    }

    @Test func cutsCountTheEscapedLength() {
        #expect(Mrkdwn.fitting("abcdef", 4) == "abc…")
        #expect(Mrkdwn.fitting("abc", 3) == "abc")
        let ampersands = String(repeating: "&", count: 2000)
        let cut = Mrkdwn.fitting(ampersands, SlackRenderer.Limit.sectionText)
        #expect(Mrkdwn.escaped(cut).count <= SlackRenderer.Limit.sectionText && cut.hasSuffix("…"))
        #expect(Mrkdwn.escaped(cut).count > SlackRenderer.Limit.sectionText - 5, "cut no shorter than it must be")
        #expect(Mrkdwn.escaped(Mrkdwn.fitting("a<b", 4)).count <= 4)
        // A huge annotation is cut before it is escaped, still to the limit and marked as cut.
        let huge = Mrkdwn.fitting(String(repeating: "<a", count: 500_000), 200)
        #expect(Mrkdwn.escaped(huge).count <= 200 && huge.hasSuffix("…") && huge.hasPrefix("<a<a"))
        // Many marks on one letter: few characters, many code points; still cut, and said to be.
        let zalgo = Mrkdwn.fitting("a" + String(repeating: "\u{301}", count: 5_000), 10)
        #expect(zalgo.hasSuffix("…") && Mrkdwn.escaped(zalgo).count <= 10)
        // An escaped note cut mid-entity drops the partial entity.
        let note: Mrkdwn = "\(String(repeating: "&", count: 4))"
        #expect(note.truncated(8) == "&amp;…")
        let long: Mrkdwn = "\(String(repeating: "<@U1>", count: 1000))"
        let body = long.messageBody["text"]?.description ?? ""
        #expect(body.count <= SlackRenderer.Limit.sectionText && body.hasSuffix("…") && !body.contains("<"))
        let limited: Mrkdwn = "x \(String(repeating: "&", count: 100), limit: 20)"
        #expect(limited.text.count <= 22)
    }

    @Test func everyTemplateEscapesTextFromOutsideButNotButtonValues() async throws {
        let renderer = try await SlackRenderer(directory: SilenceTests.templates)
        let value = JSONValue.object(["tool": .string("run_sql"), "arguments": .object(["q": .string(Self.hostile)])]).jsonText
        let h = Self.hostile
        let contexts: [String: [String: Any]] = [
            "error": ["message": h, "hint": h],
            "lines": ["title": h, "lines": [["text": h]]],
            "help": ["command": h, "mode": h, "commands": [["command": h, "usage": h, "what": h, "sep": ""]]],
            "approval_decided": ["id": h, "call": h, "icon": h, "outcome": h, "detail": h],
            "security_detection": ["kind": h, "subject": h, "summary": h, "severity": h, "icon": h, "incident": h, "events": h],
            "approval_request": ["id": "apr_<1>&", "call": h, "confirmCall": h, "requester": h, "quorum": "1", "approvers": h, "expires": h,
                                 "reason": h, "progress": h, "evidence": h],
            "diagnosis": ["headline": h, "summary": h, "target": h, "trigger": h, "mode": h, "milliseconds": "1", "incident": h, "tool_count": "1",
                          "findings": [["icon": h, "severity": h, "summary": h, "advice": h]], "analysis": h, "failed": h,
                          "actions": [["call": h, "reason": h, "confirmCall": h, "label": h, "value": value]]],
        ]
        for (template, context) in contexts {
            let message = renderer.render(template, context, fallbackText: "fallback")
            #expect(message["text"]?.description != "fallback", "\(template) rendered")
            Self.expectInert(message, except: [value, "apr_<1>&"])
            #expect(Self.strings(message).contains { $0.contains(Self.escaped) }, "\(template) shows the text as typed")
        }
        let diagnosis = renderer.render("diagnosis", contexts["diagnosis"] ?? [:], fallbackText: "fallback")
        #expect(Self.strings(diagnosis).contains(value), "the Run button's value is JSON, not mrkdwn")
        let approval = renderer.render("approval_request", contexts["approval_request"] ?? [:], fallbackText: "fallback")
        #expect(Self.strings(approval).filter { $0 == "apr_<1>&" }.count == 2, "approve and deny carry the id as it is")
    }

    @Test func anActionTooLongForAButtonIsShownWithoutOne() async throws {
        let renderer = try await SlackRenderer(directory: SilenceTests.templates)
        let context: [String: Any] = ["headline": "h", "summary": "s", "target": "t", "trigger": "x", "mode": "runbook", "milliseconds": "1",
                                      "incident": "inc_1", "tool_count": "1", "findings": [[String: Any]](),
                                      "actions": [["call": "run_sql(…)", "reason": "r", "confirmCall": "c", "label": "Run run_sql"]]]
        let message = renderer.render("diagnosis", context, fallbackText: "fallback")
        #expect(message["text"]?.description != "fallback", "still a valid message")
        #expect(!message.jsonText.contains("run_action"))
        #expect(Self.strings(message).contains { $0.contains("too long for a Run button") })
    }

    @Test func theAlertRootEscapesLabelsAndKeepsTheButtonValue() async throws {
        let renderer = try await SlackRenderer(directory: SilenceTests.templates)
        let button = SilenceButton(fingerprint: "a1b2c3d4e5f60718", receiver: "team <ops> & co", startsAt: "2026-11-24T11:50:00Z")
        let root = SlackViews.alertRoot(renderer, alertname: Self.hostile, severity: Self.hostile, target: Self.hostile, status: "firing",
                                        summary: String(repeating: "&", count: 3000), link: "https://grafana.example/d?a=1&b=|<x>", alerts: 1,
                                        started: Self.hostile, silence: button)
        Self.expectInert(root, except: [button.value])
        let blocks = try #require(root["blocks"]?.arrayValue)
        let section = try #require(blocks.first?.value(at: "text.text")?.description)
        #expect(section.contains("*\(Self.escaped)*") && section.count <= SlackRenderer.Limit.sectionText)
        let element = try #require(blocks.first { $0["type"] == .string("actions") }?["elements"]?.arrayValue?.first)
        #expect(element["value"] == .string(button.value) && SilenceButton(value: button.value) == button)
        #expect((element.value(at: "confirm.text.text")?.description.count ?? 999) <= 300)
        let context = try #require(blocks.last?.value(at: "elements")?.arrayValue?.first?["text"]?.description)
        #expect(context.hasPrefix("<https://grafana.example/d?a=1&amp;b=%7C&lt;x&gt;|source>"), "the bot's own link, its address escaped")
        let long = SlackViews.alertRoot(renderer, alertname: "A", severity: "warning", target: "t", status: "firing", summary: nil,
                                        link: "https://x.example/" + String(repeating: "&", count: 400), alerts: 1, started: "s")
        #expect(!(long.jsonText.contains("|source>")), "a link too long to show whole is left out, not cut")
        // A mark after `|` makes one character of the two; the address still cannot end early.
        let marked = SlackViews.alertRoot(renderer, alertname: "A", severity: "warning", target: "t", status: "firing", summary: nil,
                                          link: "https://evil.example/|\u{301}Runbook", alerts: 1, started: "s")
        let markedContext = try #require(marked["blocks"]?.arrayValue?.last?.value(at: "elements")?.arrayValue?.first?["text"]?.description)
        #expect(markedContext.hasPrefix("<https://evil.example/%7C\u{301}Runbook|source>"), "\(markedContext)")
    }

    @Test func theStormDigestEscapesByCodePoint() {
        // U+0600 joins the `<` that follows into one character: a per-character replace missed it.
        let escaped = SlackViews.mrkdwnEscaped("\u{0600}<!channel>\u{0301}")
        #expect(!escaped.unicodeScalars.contains("<") && !escaped.unicodeScalars.contains(">"), "\(escaped)")
    }

    @Test func approvalMessagesEscapeAndTheirConfirmDialogsStayUnder300() async throws {
        let renderer = try await SlackRenderer(directory: SilenceTests.templates)
        let request = ApprovalRequest(tool: "run_sql", target: "prod-db", arguments: ["q": .string(Self.hostile + String(repeating: "&", count: 600))],
                                      action: .write, resource: nil, purpose: nil, via: nil, impact: nil)
        let decisionJSON = JSONValue.object(["effect": .string("require_approval"), "policy": .string("p"), "reason": .string(Self.hostile),
                                             "quorum": .number(1), "approvers": .array([])])
        let decision = try JSONDecoder().decode(Decision.self, from: Data(decisionJSON.jsonText.utf8))
        let record = try JSONDecoder().decode(ApprovalRecord.self, from: Data(JSONValue.object([
            "id": .string("apr_1"), "created_at": .number(0), "expires_at": .number(3600), "requester": .string("<@U1>"),
            "request": try JSONValue(parsing: String(decoding: JSONEncoder().encode(request), as: UTF8.self)),
            "decision": decisionJSON,
            "quorum": .number(1), "status": .string("pending"), "votes": .array([]),
        ]).jsonText.utf8))
        let notifier = SlackApprovalNotifier(channel: "C1", renderer: renderer)
        let opened = try #require(notifier.opened(record, decision: decision).slackMessages.first)
        Self.expectInert(opened.body, except: ["apr_1"])
        let buttons = (opened.body["blocks"]?.arrayValue ?? []).flatMap { $0["elements"]?.arrayValue ?? [] }
            .filter { $0["type"] == .string("button") }
        #expect(buttons.count == 2)
        for button in buttons {
            let confirm = try #require(button.value(at: "confirm.text.text")?.description)
            #expect(confirm.count <= 300, "\(confirm.count) characters")
        }
        let decided = notifier.decided(record, summary: "ran: " + Self.hostile).slackMessages
        #expect(decided.count == 2)
        for message in decided { Self.expectInert(message.body) }
        #expect(decided.last?.body["text"] == .string("`apr_1`: ran: " + Self.escaped))
    }

    @Test func theRenderersFallbackIsEscapedAndCut() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let renderer = try await SlackRenderer(directory: folder.path)
        let message = renderer.render("missing", [:], fallbackText: Self.hostile + String(repeating: "&", count: 1000))
        let text = message["text"]?.description ?? ""
        #expect(text.hasPrefix(Self.escaped) && text.count <= SlackRenderer.Limit.sectionText && text.hasSuffix("…"))
    }

    @Test func srebotsResolvedAndFiredAgainNotesEscapeLabels() async throws {
        let harness = try await SilenceTests.Harness()
        let labels = ["alertname": "<!channel> & <@U1>", "instance": "<@U2>:9100"]
        try await harness.receive(startsAt: "2026-11-24T11:50:00Z", labels: labels)
        let context = SrebotContext(orchestrator: harness.orchestrator, inventory: Infrastructure(), renderer: harness.slack.renderer,
                                    slackEnabled: true, store: harness.store)
        func payload(startsAt: String) -> AlertJobPayload {
            AlertJobPayload(fingerprint: "a1b2c3d4e5f60718", startsAt: startsAt, endsAt: nil, groupKey: "g1", groupStatus: "firing", groupSize: 1,
                            labels: labels, annotations: ["summary": "<!here>"], channel: "C1", link: nil)
        }
        try await harness.store.apply(ChangeSet(jobs: [
            NewJob(kind: SrebotResolvedJob.kind, payload: payload(startsAt: "2026-11-24T11:50:00Z").jobText),
            NewJob(kind: SrebotAlertJob.kind, payload: payload(startsAt: "2026-11-24T11:55:00Z").jobText),
        ]))
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        var notes: [String: String] = [:]
        for job in try await harness.store.jobs.lease(owner: "t", limit: 10, duration: .seconds(30), now: Date()) {
            let outcome: JobOutcome
            if job.kind == SrebotResolvedJob.kind {
                outcome = try await SrebotResolvedJob(context: context).run(job, logger: logger)
            } else {
                outcome = try await SrebotAlertJob(context: context).run(job, logger: logger)
            }
            notes[job.kind] = outcome.followUp.slackMessages.first?.body["text"]?.description
        }
        let resolved = try #require(notes[SrebotResolvedJob.kind])
        #expect(resolved.hasPrefix(":large_green_circle: &lt;!channel&gt; &amp; &lt;@U1&gt; on `&lt;@U2&gt;:9100` resolved after"), "\(resolved)")
        let again = try #require(notes[SrebotAlertJob.kind])
        #expect(again.hasPrefix("&lt;!channel&gt; &amp; &lt;@U1&gt; on `&lt;@U2&gt;:9100` fired again;"), "\(again)")
        #expect(!resolved.contains("<") && !again.contains("<"))
        try await harness.finish()
    }
}
