import Foundation
import HelpdeskContent
import HelpdeskCore
import HelpdeskShippedContent
import HelpdeskSlack
import HelpdeskTestSupport
import Testing

@Suite struct SlackSignatureTests {
    // Slack's documented example (see shared/reference/protocols.md, section B).
    static let secret = Secret("8f742231b10e8888abcd99yyyzzz85a5")
    static let timestamp = "1531420618"
    static let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    static let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    static let signedAt = Date(timeIntervalSince1970: 1_531_420_618)

    @Test func slacksOwnExampleVerifies() {
        #expect(SlackSignature.sign(body: Array(Self.body.utf8), timestamp: Self.timestamp, secret: Self.secret) == Self.signature)
        #expect(SlackSignature.verify(body: Array(Self.body.utf8), timestamp: Self.timestamp, signature: Self.signature, secret: Self.secret, now: Self.signedAt) == nil)
    }

    @Test func replayWindowIsFiveMinutesEitherWay() {
        let body = Array(Self.body.utf8)
        for offset in [-300.0, 300.0] {
            #expect(SlackSignature.verify(body: body, timestamp: Self.timestamp, signature: Self.signature, secret: Self.secret,
                                          now: Self.signedAt.addingTimeInterval(offset)) == nil)
        }
        for offset in [-301.0, 301.0] {
            #expect(SlackSignature.verify(body: body, timestamp: Self.timestamp, signature: Self.signature, secret: Self.secret,
                                          now: Self.signedAt.addingTimeInterval(offset)) == .stale)
        }
    }

    @Test func tamperedOrIncompleteRequestsAreRefused() {
        var tampered = Array(Self.body.utf8)
        tampered[tampered.count - 1] ^= 1
        #expect(SlackSignature.verify(body: tampered, timestamp: Self.timestamp, signature: Self.signature, secret: Self.secret, now: Self.signedAt) == .mismatch)
        #expect(SlackSignature.verify(body: Array(Self.body.utf8), timestamp: Self.timestamp, signature: Self.signature,
                                      secret: Secret("another-secret-entirely"), now: Self.signedAt) == .mismatch)
        #expect(SlackSignature.verify(body: Array(Self.body.utf8), timestamp: nil, signature: Self.signature, secret: Self.secret, now: Self.signedAt) == .missingHeaders)
        #expect(SlackSignature.verify(body: Array(Self.body.utf8), timestamp: "yesterday", signature: Self.signature, secret: Self.secret, now: Self.signedAt) == .badTimestamp)
        #expect(SlackSignature.verify(body: Array(Self.body.utf8), timestamp: Self.timestamp, signature: "v0=" + String(repeating: "0", count: 64),
                                      secret: Self.secret, now: Self.signedAt) == .mismatch)
    }

    @Test func slashCommandFormIsParsed() throws {
        let command = try #require(SlashCommand(formBody: Self.body))
        #expect(command.userID == "U2CERLKJA")
        #expect(command.command == "/webhook-collect")
        #expect(command.responseURL == "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN")
        #expect(SlashCommand(formBody: "user_id=U1&command=%2Fhd&text=diagnose+prod-db+very+slow&response_url=x")?.text == "diagnose prod-db very slow")
        #expect(SlashCommand(formBody: "text=hello") == nil)
    }
}

@Suite struct CommandGrammarTests {
    @Test(arguments: [
        ("", CommandRequest.help),
        ("help", .help),
        ("diagnose prod-db", .diagnose(target: "prod-db", symptom: nil)),
        ("diagnose prod-db queries are stuck", .diagnose(target: "prod-db", symptom: "queries are stuck")),
        ("status", .status),
        ("db terminate_backend prod-db pid=4242", .db(tool: "terminate_backend", target: "prod-db", arguments: ["pid": "4242"])),
        ("k8s pods orders selector=app=api", .k8s(tool: "pods", namespace: "orders", arguments: ["selector": "app=api"])),
        ("incidents", .incidents),
        ("incident inc_1", .incident(id: "inc_1")),
        ("approvals", .approvals),
        ("approve apr_1 blocker confirmed", .approve(id: "apr_1", reason: "blocker confirmed")),
        ("deny apr_1", .deny(id: "apr_1", reason: nil)),
        ("explain evt_3_x", .explain(eventID: "evt_3_x")),
        ("diagnose", .unknown("diagnose")),
        ("db terminate_backend prod-db 4242", .unknown("db terminate_backend prod-db 4242")),
        ("make me a sandwich", .unknown("make me a sandwich")),
    ])
    func grammar(text: String, expected: CommandRequest) {
        #expect(CommandRequest(text: text) == expected)
    }
}

@Suite struct SlackTemplateTests {
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("templates/slack").path

    @Test func valuesAreJSONEscapedAndLongTextIsCut() async throws {
        let renderer = try SlackRenderer(templates: ContentLibrary.builtIn().files(.slackTemplates))
        let hostile = "quote \" backslash \\ newline \n tab \t <html> & done"
        let message = renderer.render("error", ["message": hostile, "hint": truncated(String(repeating: "x", count: 5000), 1000)], fallbackText: "fallback")
        // JSON-escaped, then read back; `<`, `>` and `&` are mrkdwn-escaped too (SLACK content type).
        let shown = "quote \" backslash \\ newline \n tab \t &lt;html&gt; &amp; done"
        #expect(message["text"] == .string(shown))
        let blocks = try #require(message["blocks"]?.arrayValue)
        #expect(blocks.first?.value(at: "text.text") == .string(":warning: " + shown))
        #expect(blocks.last?.value(at: "elements")?.arrayValue?.first?["text"]?.description.count == 1000)
        #expect(truncated("abcdef", 4) == "abc…")
    }

    @Test func brokenTemplateFallsBackToPlainText() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("broken.mustache", "{{% CONTENT_TYPE: JSON }}\n{\"text\": \"{{message}}\",,}")
        let renderer = try await SlackRenderer(directory: folder.path)
        #expect(renderer.render("broken", ["message": "hi"], fallbackText: "plain") == .object(["response_type": .string("ephemeral"), "text": .string("plain")]))
    }

    @Test func overlongBlockListsAreCappedAtFifty() async throws {
        let renderer = try await SlackRenderer(directory: Self.templates)
        let message = renderer.render("lines", ["title": "many", "lines": (0..<80).map { ["text": "line \($0)"] }], fallbackText: "many")
        let blocks = try #require(message["blocks"]?.arrayValue)
        #expect(blocks.count == 50)
        #expect(blocks.last?.value(at: "elements")?.arrayValue?.first?["text"]?.description.hasPrefix("… 32 more not shown") == true)
    }
}
