import Foundation
import HelpdeskAgents
import HelpdeskContent
import HelpdeskCore
@testable import HelpdeskOrchestrator
import HelpdeskShippedContent
import HelpdeskGovernance
@testable import HelpdeskSlack
import HelpdeskStore
import HelpdeskWeb
import Testing

/// What the web shows of a message is what Slack shows, and nothing from outside reaches the page as
/// markup: mrkdwn and Block Kit are rendered by escaping everything and writing only our own tags.
@Suite struct WebRenderTests {
    /// `html` without the tags MrkdwnHTML writes: what is left must be plain escaped text.
    static func outsideOurTags(_ html: String) -> String {
        let ours = #/</?(?:strong|em|s|code|pre)>|<br>|<span class="mention">|</span>|<a href="(?i:https?:|mailto:)[^"<>]*" rel="noopener noreferrer">|</a>/#
        return html.replacing(ours.matchingSemantics(.unicodeScalar), with: "")
    }

    static func expectInert(_ html: String, _ input: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        let rest = outsideOurTags(html)
        #expect(!rest.unicodeScalars.contains { $0 == "<" || $0 == ">" || $0 == "\"" || $0 == "'" },
                "markup or a quote from \(input.debugDescription) in \(html.debugDescription)", sourceLocation: sourceLocation)
        let entities = #/&(?:amp|lt|gt|quot|#39);/#
        #expect(!rest.replacing(entities.matchingSemantics(.unicodeScalar), with: "").unicodeScalars.contains("&"),
                "a bare & in \(html.debugDescription)", sourceLocation: sourceLocation)
    }

    /// Every piece of HTML a list of blocks holds.
    static func htmls(_ blocks: [WebBlock]) -> [String] {
        blocks.flatMap { block -> [String] in
            switch block {
            case .section(let html, let fields, _): [html] + fields
            case .context(let html): [html]
            default: []
            }
        }
    }

    static let hostile = [
        "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;", "&amp;lt;b&amp;gt;",
        "<javascript:alert(1)|click me>", "<JavaScript:alert(1)>", "<vbscript:msgbox|x>", "<data:text/html;base64,PHNjcmlwdD4=|x>",
        "<https://evil.example/\"onmouseover=\"alert(1)|say \"hi\" & 'bye'>", "<https://x.example|<img src=x onerror=alert(1)>>",
        "<mailto:a@b.example?subject=\"x\"|mail>", "<HTTPS://EXAMPLE.COM|ok>", "< https://x.example>", "<https://|empty>",
        "*bold _italic ~strike `code *unbalanced", "```<b>never closed", "```\n</pre><script>x</script>\n```",
        "<@U1|\"><script>>", "<!here|<b>>", "<#C1|'quoted'>", "<\u{301}script>", "\u{0600}<b>x</b>", "\"'><svg/onload=alert(1)>",
        "*<https://x.example|*link*>* _<@U1>_ ~`<i>`~",
    ]

    @Test(arguments: WebRenderTests.hostile)
    func hostileMrkdwnNeverBecomesMarkup(_ input: String) {
        Self.expectInert(MrkdwnHTML.html(input), input)
    }

    @Test func aLongLineOfMarkersIsInertAndKeepsEveryCharacter() {
        let input = String(repeating: "*_~`<>:&x ", count: 3000)
        let html = MrkdwnHTML.html(input)
        Self.expectInert(html)
        #expect(Self.outsideOurTags(html).filter { $0 == "x" }.count == 3000, "no text dropped")
    }

    @Test func formattingBecomesTagsAndTextIsDecodedThenEscaped() {
        #expect(MrkdwnHTML.html("*Approval needed* for `run_sql`\nrequested by &lt;@U1&gt; &amp; co")
                == "<strong>Approval needed</strong> for <code>run_sql</code><br>requested by &lt;@U1&gt; &amp; co")
        #expect(MrkdwnHTML.html("_italic_ ~gone~ \"q\" 'a'") == "<em>italic</em> <s>gone</s> &quot;q&quot; &#39;a&#39;")
        #expect(MrkdwnHTML.html("before\n```\nx *y* &lt;z&gt;\n```\nafter") == "before<br><pre>x *y* &lt;z&gt;</pre><br>after")
        #expect(MrkdwnHTML.html("&amp;lt;b&amp;gt;") == "&amp;lt;b&amp;gt;", "decoded once: the text `&lt;b&gt;`, not a tag")
        #expect(MrkdwnHTML.html("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;")
    }

    @Test func markersWithoutTheirPairStayAsTyped() {
        for text in ["*not bold", "a * b * c", "snake_case_name and 2*3*4", "`unclosed", "```unclosed", "~", "**", "_ _"] {
            #expect(MrkdwnHTML.html(text) == text, "\(text)")
        }
        #expect(MrkdwnHTML.html("*bold _open*") == "<strong>bold _open</strong>")
        #expect(MrkdwnHTML.html("*across\nlines*") == "*across<br>lines*")
    }

    @Test func onlyHTTPAndMailtoAddressesBecomeLinks() {
        #expect(MrkdwnHTML.html("<https://grafana.example/d?a=1&amp;b=2|source> · 3 alert(s)")
                == "<a href=\"https://grafana.example/d?a=1&amp;b=2\" rel=\"noopener noreferrer\">source</a> · 3 alert(s)")
        #expect(MrkdwnHTML.html("<https://x.example/runbook>")
                == "<a href=\"https://x.example/runbook\" rel=\"noopener noreferrer\">https://x.example/runbook</a>")
        #expect(MrkdwnHTML.html("<mailto:ops@example.com>") == "<a href=\"mailto:ops@example.com\" rel=\"noopener noreferrer\">ops@example.com</a>")
        #expect(MrkdwnHTML.html("<https://evil.example/\"x|say \"hi\">")
                == "<a href=\"https://evil.example/&quot;x\" rel=\"noopener noreferrer\">say &quot;hi&quot;</a>")
        #expect(MrkdwnHTML.html("<javascript:alert(1)|click me>") == "&lt;javascript:alert(1)|click me&gt;")
        #expect(!MrkdwnHTML.html("<JavaScript:alert(1)>").contains("href"))
        #expect(MrkdwnHTML.html("<@U123> <#C1|ops> <!here>")
                == "<span class=\"mention\">@U123</span> <span class=\"mention\">#ops</span> <span class=\"mention\">@here</span>")
    }

    @Test func emojiShortcodesBecomeUnicodeAndUnknownOnesStay() {
        #expect(MrkdwnHTML.html(":lock: *Approval needed*") == "\u{1F512} <strong>Approval needed</strong>")
        #expect(MrkdwnHTML.html(":no_such_emoji: 10:30:00") == ":no_such_emoji: 10:30:00")
        #expect(MrkdwnHTML.html("`:lock:`") == "<code>:lock:</code>", "code is shown as it is")
        #expect(MrkdwnHTML.plainText("Silence 1h &amp; more :mute:") == "Silence 1h & more \u{1F507}")
        #expect(HTMLText.escaped("<a href=\"x\">'&") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;")
        #expect(HTMLText.slackDecoded("&amp;lt; &lt; &gt; &amp; &quot;") == "&lt; < > & &quot;")
    }

    @Test func everyShortcodeOurMessagesUseIsKnown() throws {
        let root = ShippedContentTests.repositoryRoot
        var used: Set<String> = []
        for name in try FileManager.default.contentsOfDirectory(atPath: root + "/templates/slack") where name.hasSuffix(".mustache") {
            let text = try String(contentsOfFile: root + "/templates/slack/" + name, encoding: .utf8)
            used.formUnion(text.matches(of: #/:([a-z_]+):/#).map { String($0.output.1) })
        }
        let sources = root + "/Sources"
        for path in try FileManager.default.subpathsOfDirectory(atPath: sources) where path.hasSuffix(".swift") {
            let text = try String(contentsOfFile: sources + "/" + path, encoding: .utf8)
            // At the start of a string literal (`":lock:"`, `":mute: \(user)"`): code has no such strings otherwise.
            used.formUnion(text.matches(of: #/":([a-z_]+):/#).map { String($0.output.1) })
        }
        #expect(used.count >= 10, "the scan found our shortcodes")
        #expect(used.subtracting(EmojiShortcodes.table.keys).isEmpty, "no Unicode for \(used.subtracting(EmojiShortcodes.table.keys).sorted())")
    }

    @Test func blockKitDecodesEveryBlockWeShowAndSkipsTheRest() throws {
        let body = try JSONValue(parsing: #"""
            {"text": "fallback", "blocks": [
              {"type": "header", "text": {"type": "plain_text", "text": "Disk &amp; CPU :fire:"}},
              {"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"},
               "fields": [{"type": "mrkdwn", "text": "`a`"}, {"type": "plain_text", "text": "<b>"}, {"type": "odd"}]},
              {"type": "divider"},
              {"type": "rich_text", "elements": []},
              {"type": "image", "image_url": "https://x.example/a.png", "alt_text": "graph"},
              {"type": "image", "image_url": "javascript:alert(1)", "alt_text": "bad"},
              {"type": "context", "elements": [{"type": "image", "image_url": "https://x.example/i.png", "alt_text": "i"},
                                               {"type": "mrkdwn", "text": "_small_"}]},
              {"type": "actions", "elements": [
                {"type": "button", "action_id": "approve", "style": "primary", "value": "apr_1", "text": {"type": "plain_text", "text": "Approve"},
                 "confirm": {"title": {"type": "plain_text", "text": "Approve?"}, "text": {"type": "mrkdwn", "text": "`x` &amp; y"},
                             "confirm": {"type": "plain_text", "text": "Yes"}, "deny": {"type": "plain_text", "text": "No"}}},
                {"type": "button", "action_id": "open_modal", "value": "v", "text": {"type": "plain_text", "text": "Other"}},
                {"type": "button", "action_id": "deny", "style": "\"><script>", "value": "apr_1", "text": {"type": "plain_text", "text": "Deny"}},
                {"type": "overflow", "action_id": "approve", "options": []},
                {"type": "button", "action_id": "silence", "text": {"type": "plain_text", "text": "no value"}}
              ]},
              {"type": "actions", "elements": [{"type": "button", "action_id": "link", "url": "https://x.example", "text": {"type": "plain_text", "text": "Open"}}]},
              {"type": "section"},
              {"no_type": true},
              "not even an object"
            ]}
            """#)
        #expect(BlockKitHTML.blocks(body) == [
            .header("Disk & CPU \u{1F525}"),
            .section(html: "<strong>hi</strong>", fields: ["<code>a</code>", "&lt;b&gt;"], buttons: []),
            .divider,
            .image(url: "https://x.example/a.png", alt: "graph"),
            .context(html: "<em>small</em>"),
            .actions([
                WebButton(kind: .approve, value: "apr_1", label: "Approve", style: "primary", confirm: "Approve?\n`x` & y"),
                WebButton(kind: .deny, value: "apr_1", label: "Deny"),
            ]),
        ])
    }

    @Test func aBodyWithoutBlocksShowsItsTextAndAnUnreadableOneSaysSo() throws {
        #expect(BlockKitHTML.blocks(.object(["text": .string("`apr_1`: *done* &lt;x&gt;")]))
                == [.section(html: "<code>apr_1</code>: <strong>done</strong> &lt;x&gt;", fields: [], buttons: [])])
        let unreadable: [JSONValue] = [
            .string("text"), .null, .object([:]), .object(["blocks": .string("nope")]), .object(["text": .number(3)]),
            .object(["blocks": .array([.number(1), .object(["type": .string("rich_text")])])]),
        ]
        for body in unreadable {
            #expect(BlockKitHTML.blocks(body) == [.notice(BlockKitHTML.unreadable)], "\(body)")
        }
    }

    @Test func everyBlocksViewHasEveryKeySoATemplateNeverReadsAnEnclosingOne() {
        let button = WebButton(kind: .runAction, value: "{\"tool\":\"x\"}", label: "Run x", confirm: "Sure?")
        let blocks: [WebBlock] = [.header("h"), .section(html: "s", fields: ["f"], buttons: [button]), .context(html: "c"), .divider,
                                  .actions([button]), .image(url: "https://x.example/a.png", alt: "a"), .notice("n")]
        let keys = Set(blocks[0].view().keys)
        #expect(keys.count == 13)
        for block in blocks { #expect(Set(block.view().keys) == keys, "\(block)") }
        let view = button.view(thread: "alertgroup:g1")
        #expect(view["kind"] as? String == "run_action" && view["thread"] as? String == "alertgroup:g1")
        #expect(view["style"] as? String == "" && view["confirm"] as? String == "Sure?")
        #expect(WebButton(kind: .deny, value: "v", label: "l").view()["confirm"] as? Bool == false)
        #expect(WebButton(kind: .deny, value: "v", label: "l").view()["thread"] == nil, "the enclosing thread's is used")
    }
}

/// Every message our Slack templates make renders on the web with its buttons: the real templates,
/// through the real view functions, with text from outside in them.
@Suite struct WebRendersOurMessagesTests {
    static func renderer() throws -> SlackRenderer {
        try SlackRenderer(templates: ContentLibrary.builtIn().files(.slackTemplates))
    }

    static func approvalRecord(requester: String = "<@U1> oncall") throws -> ApprovalRecord {
        let request = JSONValue.object(["tool": .string("terminate_backend"), "target": .string("prod-db"),
                                        "arguments": .object(["pid": .number(4242)]), "action": .string("destructive")])
        let decision = JSONValue.object(["effect": .string("require_approval"), "policy": .string("dba"), "reason": .string("writes need a DBA"),
                                         "quorum": .number(2), "approvers": .array([.string("dba")])])
        return try JSONDecoder().decode(ApprovalRecord.self, from: Data(JSONValue.object([
            "id": .string("apr_1"), "created_at": .number(0), "expires_at": .number(3600), "requester": .string(requester),
            "request": request, "decision": decision, "quorum": .number(2), "status": .string("pending"), "votes": .array([]),
        ]).jsonText.utf8))
    }

    static func diagnosis() -> Diagnosis {
        let call = ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(4242)])
        let finding = Finding(rule: "blocker", tool: "blocking_locks", severity: .critical, summary: "pid 4242 blocks 12 sessions & holds <a lock>",
                              evidence: .object([:]), recommendedActions: [RecommendedAction(call: call, reason: "idle in transaction for 20 min")])
        return Diagnosis(incidentID: "inc_1", target: "prod-db", trigger: "alert PostgresLockPileUp", runbooks: ["postgres-locks"],
                         summary: "1 session blocks 12 <script>", findings: [finding], tools: [], startedAt: Date(timeIntervalSince1970: 0),
                         milliseconds: 12, bundlePath: nil, problems: [])
    }

    /// Shown, not replaced by the notice, and inert.
    static func shown(_ message: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> [WebBlock] {
        let blocks = BlockKitHTML.blocks(message)
        #expect(!blocks.isEmpty && !blocks.contains(.notice(BlockKitHTML.unreadable)), "\(message.jsonText)", sourceLocation: sourceLocation)
        for html in WebRenderTests.htmls(blocks) { WebRenderTests.expectInert(html, sourceLocation: sourceLocation) }
        return blocks
    }

    @Test func anApprovalRequestShowsItsCallAndBothButtons() throws {
        let message = SlackViews.approvalRequest(try Self.renderer(), try Self.approvalRecord(), reason: "blocks 12 sessions <!channel>")
        let blocks = Self.shown(message)
        let text = WebRenderTests.htmls(blocks).joined(separator: "\n")
        #expect(text.contains("\u{1F512} <strong>Approval needed</strong>"))
        #expect(text.contains("<code>terminate_backend({&quot;pid&quot;:4242}) on prod-db</code>"))
        #expect(text.contains("blocks 12 sessions &lt;!channel&gt;") && text.contains("&lt;@U1&gt; oncall"))
        #expect(!text.contains("mention"), "text from outside mentions nobody")
        let buttons = blocks.flatMap(\.buttons)
        #expect(buttons.map(\.kind) == [.approve, .deny] && buttons.allSatisfy { $0.value == "apr_1" })
        #expect(buttons.map(\.style) == ["primary", "danger"] && buttons.map(\.label) == ["Approve", "Deny"])
        #expect(buttons.first?.confirm?.hasPrefix("Approve?\n") == true)
    }

    @Test func aDiagnosisShowsHeaderFindingsAndARunButtonCarryingTheCall() throws {
        let blocks = Self.shown(SlackViews.diagnosis(try Self.renderer(), Self.diagnosis()))
        #expect(blocks.first == .header("Diagnosis of prod-db"))
        let text = WebRenderTests.htmls(blocks).joined(separator: "\n")
        #expect(text.contains("<strong>1 session blocks 12 &lt;script&gt;</strong><br>target <code>prod-db</code>"))
        #expect(text.contains("\u{1F534} <strong>critical</strong> pid 4242 blocks 12 sessions &amp; holds &lt;a lock&gt;"))
        #expect(text.contains("Recommended: <code>terminate_backend(pid=4242) on prod-db</code>"))
        let buttons = blocks.flatMap(\.buttons)
        #expect(buttons.map(\.kind) == [.runAction] && buttons.map(\.label) == ["Run terminate_backend"])
        #expect(buttons.first?.confirm == "Request this action?\n`terminate_backend(pid=4242) on prod-db` goes through policy; it may need approval.")
        // The value is what Slack's button carries: the call and the diagnosis it came from.
        let button = try #require(buttons.first.flatMap { RunActionButton(value: $0.value) })
        #expect(button.call == ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(4242)]))
        #expect(button.origin?.incidentID == "inc_1")
        #expect(blocks.last == .context(html: "incident <code>inc_1</code> · 0 tools"))
    }

    @Test func aFindingsAdviceIsShownUnderItEscaped() throws {
        var diagnosis = Self.diagnosis()
        diagnosis.findings[0].advice = "lower the <requests> & add capacity"
        let text = WebRenderTests.htmls(Self.shown(SlackViews.diagnosis(try Self.renderer(), diagnosis))).joined(separator: "\n")
        #expect(text.contains("holds &lt;a lock&gt;<br><em>Advice:</em> lower the &lt;requests&gt; &amp; add capacity"))
    }

    @Test func anAlertRootShowsItsLinkAndItsSilenceButton() throws {
        let silence = SilenceButton(fingerprint: "a1b2c3d4e5f60718", receiver: "am", startsAt: "2026-11-24T11:50:00Z")
        let root = SlackViews.alertRoot(try Self.renderer(), alertname: "PostgresLockPileUp", severity: "critical", target: "demo-db", status: "firing",
                                        summary: "12 sessions <b>waiting</b>", link: "https://grafana.example/d?a=1&b=2", alerts: 1,
                                        started: "2026-11-24T11:50:00Z", silence: silence)
        let blocks = Self.shown(root)
        #expect(blocks.first == .section(html: "\u{1F534} <strong>PostgresLockPileUp</strong> · critical · <code>demo-db</code><br>"
                                             + "<strong>firing</strong> — 12 sessions &lt;b&gt;waiting&lt;/b&gt;", fields: [], buttons: []))
        #expect(blocks.flatMap(\.buttons).map(\.kind) == [.silence] && blocks.flatMap(\.buttons).first?.value == silence.value)
        #expect(blocks.flatMap(\.buttons).first?.label == "Silence 1h")
        #expect(blocks.last == .context(html: "<a href=\"https://grafana.example/d?a=1&amp;b=2\" rel=\"noopener noreferrer\">source</a>"
                                              + " · 1 alert(s) in this group · started 2026-11-24T11:50:00Z"))
    }

    @Test func everyOtherTemplateRendersWithoutTheNotice() throws {
        let renderer = try Self.renderer()
        let record = try Self.approvalRecord()
        let hostile = "<!channel> & <script>"
        let note: Mrkdwn = "`apr_1`: \(hostile)"
        let storm: [String: Any] = [
            "icon": ":rotating_light:", "firing": "12", "resolved": "1", "groups": "3", "started": "2026-11-24T11:50:00Z", "top": "3",
            "lasted": "5m 0s", "groupLines": [["text": Mrkdwn.escaped(hostile)]], "hasGroups": true,
            "diagnosed": [["text": "PostgresLockPileUp (critical)"]], "hasDiagnosed": true,
        ]
        let messages: [String: JSONValue] = [
            "help": SlackViews.help(renderer, command: "/helpdesk", mode: "runbook"),
            "error": SlackViews.error(renderer, hostile, hint: hostile),
            "lines": SlackViews.lines(renderer, title: hostile, lines: ["inc_1 · " + hostile]),
            "approval_decided": SlackViews.decided(renderer, record, outcome: "approved by " + hostile),
            "storm_digest": renderer.render("storm_digest", storm, fallbackText: "fallback"),
            "storm_summary": renderer.render("storm_summary", storm, fallbackText: "fallback"),
            "note": note.messageBody,
        ]
        for (name, message) in messages {
            #expect(message["text"]?.description != "fallback", "\(name) rendered")
            let text = WebRenderTests.htmls(Self.shown(message)).joined(separator: "\n")
            if name != "help" { #expect(text.contains("&lt;!channel&gt; &amp; &lt;script&gt;"), "\(name): \(text)") }
        }
        #expect(Self.shown(messages["help"] ?? .null).first == .header("/helpdesk — what I can do"))
        let digest = WebRenderTests.htmls(Self.shown(messages["storm_digest"] ?? .null)).joined()
        #expect(digest.hasPrefix("\u{1F6A8} <strong>Alert storm</strong>"))
    }
}
