import Foundation
import HelpdeskContent
import HelpdeskCore
import HelpdeskServer
import HelpdeskShippedContent
@testable import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import HelpdeskWeb
import Mustache
import Testing

/// The feed groups the outbox into threads as a chat shows them, and the pages keep the DOM contract
/// the routes, app.js and the browser tests rely on.
@Suite struct WebFeedTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func entry(_ id: Int64, _ thread: String?, root: Bool = false, channel: String = OutboxMessage.webChannel, minute: Double,
                      text: String? = nil, rendered: RenderedBody? = nil) -> FeedEntry {
        FeedEntry(id: id, channel: channel, threadKey: thread, isRoot: root, body: .object(["text": .string(text ?? "message \(id)")]),
                  rendered: rendered, createdAt: t0.addingTimeInterval(minute * 60))
    }

    static let entries = [
        entry(1, "alertgroup:g1", root: true, minute: 0),
        entry(2, "alertgroup:g1", minute: 1),
        entry(3, nil, minute: 2),
        entry(4, "approval:apr_1", root: true, channel: "C0123", minute: 3),
        entry(5, "alertgroup:g1", minute: 4),
        entry(6, WebFeed.ownThreadKey(3), minute: 5),
        entry(7, "storm:1", root: true, minute: 0.5, text: "stale digest", rendered: .stormDigest(1)),
        // A reply stored before its root (ids are not times): the root still comes first.
        entry(8, "x", minute: 0.2),
        entry(9, "x", root: true, minute: 0.3),
    ]

    @Test func threadsAreNewestActivityFirstWithTheRootFirstThenRepliesById() async {
        let threads = await WebFeed.threads(Self.entries.reversed(), rendered: { _ in nil })
        #expect(threads.map(\.key) == ["message:3", "alertgroup:g1", "approval:apr_1", "storm:1", "x"])
        #expect(threads.map { $0.messages.map(\.id) } == [[3, 6], [1, 2, 5], [4], [7], [9, 8]])
        #expect(threads.map { $0.messages.map(\.channelLabel) }[2] == ["Slack #C0123"])
        #expect(threads.first?.messages.first?.channelLabel == "web")
        #expect(threads[1].messages.first?.blocks == [.section(html: "message 1", fields: [], buttons: [])])
    }

    @Test func aStoredStateBodyIsRenderedAndItsStoredBodyIsTheFallback() async {
        let digest = JSONValue.object(["text": .string(":rotating_light: *Alert storm*")])
        let rendered = await WebFeed.threads(Self.entries, rendered: { body in body == .stormDigest(1) ? digest : nil })
        #expect(rendered.first { $0.key == "storm:1" }?.messages.first?.blocks
                == [.section(html: "\u{1F6A8} <strong>Alert storm</strong>", fields: [], buttons: [])])
        struct Gone: Error {}
        let failed = await WebFeed.threads(Self.entries, rendered: { _ in throw Gone() })
        #expect(failed.first { $0.key == "storm:1" }?.messages.first?.blocks == [.section(html: "stale digest", fields: [], buttons: [])])
    }

    @Test func atMostFiftyThreadsTheNewest() async {
        let many = (1...60).map { Self.entry(Int64($0), nil, minute: Double($0)) }
        let threads = await WebFeed.threads(many, rendered: { _ in nil })
        #expect(threads.count == WebFeed.maxThreads && WebFeed.maxThreads == 50)
        #expect(threads.first?.key == "message:60" && threads.last?.key == "message:11")
    }

    @Test func timesAreISOAndShortInUTC() {
        let message = WebMessage(id: 1, createdAt: Date(timeIntervalSince1970: 45_296), channel: "C1", isRoot: true, blocks: [])
        #expect(message.time == "1970-01-01T12:34:56Z" && message.shortTime == "12:34")
        #expect(WebMessage(id: 2, createdAt: Date(timeIntervalSince1970: -60), channel: "C1", isRoot: false, blocks: []).shortTime == "23:59")
        let view = message.view(thread: "t")
        #expect(view["id"] as? String == "1" && view["time_short"] as? String == "12:34" && view["channel"] as? String == "Slack #C1")
    }
}

@Suite struct WebPageTests {
    static let csrf = "tok\"en<&>"
    static let csrfEscaped = "tok&quot;en&lt;&amp;&gt;"

    static func approvalThreads() async throws -> [WebThread] {
        let renderer = try SlackRenderer(templates: ContentLibrary.builtIn().files(.slackTemplates))
        let request = SlackViews.webAPIBody(SlackViews.approvalRequest(renderer, try WebRendersOurMessagesTests.approvalRecord(), reason: "why"))
        let entries = [
            FeedEntry(id: 4, channel: OutboxMessage.webChannel, threadKey: "approval:apr_1", isRoot: true, body: request, rendered: nil,
                      createdAt: WebFeedTests.t0),
            FeedEntry(id: 5, channel: OutboxMessage.webChannel, threadKey: "approval:apr_1", isRoot: false,
                      body: .object(["text": .string("`apr_1`: 1 of 2 approvals")]), rendered: nil, createdAt: WebFeedTests.t0),
        ]
        return await WebFeed.threads(entries, rendered: { _ in nil })
    }

    @Test func theFeedPageKeepsTheDOMContractAndHasNoInlineScriptOrStyle() async throws {
        let pages = try WebPages(ContentLibrary.builtIn())
        let page = pages.feedPage(try await Self.approvalThreads(), head: WebPageHead(title: "Feed", user: "dba1 <x>", csrf: Self.csrf, tab: .feed))
        #expect(page.hasPrefix("<!doctype html>"))
        for part in [
            "<link rel=\"stylesheet\" href=\"/web/style.css\">", "<script src=\"/web/app.js\" defer></script>",
            "<nav id=\"nav\"", "<a href=\"/\" aria-current=\"page\">Feed</a>", "<a href=\"/web/approvals\">Approvals</a>",
            "<a href=\"/web/incidents\">", "<a href=\"/web/audit\">", "<a href=\"/web/alerts\">",
            "<form id=\"logout\" method=\"post\" action=\"/logout\">", "dba1 &lt;x&gt;",
            "<form id=\"command\" method=\"post\" action=\"/web/command\">", "name=\"text\"", "<main id=\"feed\"",
            "<article class=\"thread\" data-thread=\"approval:apr_1\">", "<div class=\"message root\" data-id=\"4\">",
            "<div class=\"message\" data-id=\"5\">", "<form class=\"action\" method=\"post\" action=\"/web/action\" data-confirm=\"Approve?",
            "<input type=\"hidden\" name=\"kind\" value=\"approve\">", "<input type=\"hidden\" name=\"kind\" value=\"deny\">",
            "<input type=\"hidden\" name=\"value\" value=\"apr_1\">", "<input type=\"hidden\" name=\"thread\" value=\"approval:apr_1\">",
            "<input type=\"hidden\" name=\"csrf\" value=\"\(Self.csrfEscaped)\">",
            "<button type=\"submit\" class=\"button primary\">Approve</button>", "<button type=\"submit\" class=\"button danger\">Deny</button>",
            "1 of 2 approvals",
        ] {
            #expect(page.contains(part), "\(part)")
        }
        #expect(!page.contains("dba1 <x>") && !page.contains(Self.csrf))
        // Every form of the page carries the token: the logout, the command box and each button.
        #expect(page.components(separatedBy: "name=\"csrf\" value=\"\(Self.csrfEscaped)\"").count - 1 == page.components(separatedBy: "<form").count - 1)
        #expect(page.components(separatedBy: "<script").count == 2 && !page.contains("<style") && !page.contains(" style="))
        #expect(page.firstMatch(of: #/\son[a-z]+=/#) == nil && !page.contains("javascript:"))
    }

    @Test func theFragmentIsTheInsideOfTheFeedWrittenOnce() async throws {
        let pages = try WebPages(ContentLibrary.builtIn())
        let threads = try await Self.approvalThreads()
        let fragment = pages.feedFragment(threads, csrf: Self.csrf)
        #expect(fragment.contains("<article class=\"thread\" data-thread=\"approval:apr_1\">"))
        #expect(!fragment.contains("<main") && !fragment.contains("<html") && !fragment.contains("id=\"nav\""))
        #expect(pages.feedPage(threads, head: WebPageHead(title: "Feed", user: "dba1", csrf: Self.csrf, tab: .feed)).contains(fragment))
        #expect(pages.feedFragment([], csrf: Self.csrf).contains("class=\"empty\""))
    }

    @Test func theSignInPageHasTheLoginFormAndNoNavigation() throws {
        let pages = try WebPages(ContentLibrary.builtIn())
        let page = pages.loginPage(WebLoginView(error: "Wrong user name or password.", next: "/web/approvals?x=\"1", csrf: "c<", userName: "<b>"))
        for part in [
            "<form id=\"login\" method=\"post\" action=\"/login\">", "name=\"user\" value=\"&lt;b&gt;\"", "name=\"password\" type=\"password\"",
            "<input type=\"hidden\" name=\"next\" value=\"/web/approvals?x=&quot;1\">", "<input type=\"hidden\" name=\"csrf\" value=\"c&lt;\">",
            "Wrong user name or password.", "<title>Sign in — helpdesk</title>",
        ] {
            #expect(page.contains(part), "\(part)")
        }
        #expect(!page.contains("id=\"nav\"") && !page.contains("id=\"logout\"") && !page.contains("password_argon2id"))
        let nobody = pages.loginPage(WebLoginView(csrf: "c", nobodyCanSignIn: true))
        #expect(nobody.contains("password_argon2id") && nobody.contains("name=\"next\" value=\"/\"") && !nobody.contains("role=\"alert\""))
    }

    @Test func everyPartialAWebPageNamesExists() throws {
        let files = try ContentLibrary.builtIn().files(.webPages)
        let pages = try WebPages(templates: files)
        #expect(files.allSatisfy { $0.name.hasSuffix(".mustache") }, "the stylesheet and script are not templates")
        var named: Set<String> = []
        for file in files {
            named.formUnion(file.text.matches(of: #/\{\{>\s*([\w/]+)\s*\}\}/#).map { String($0.output.1) })
        }
        #expect(named.isSuperset(of: ["web_head", "web_foot", "feed_fragment", "web_blocks", "web_button"]))
        for name in named { #expect(pages.library.getTemplate(named: name) != nil, "{{> \(name)}}") }
        #expect(ContentCheck(ContentLibrary.builtIn(), kinds: [.webPages]).problems.isEmpty)
    }
}

/// The stylesheet and script ship in the binary and a configured folder replaces them file by file.
@Suite struct WebAssetTests {
    @Test func theBinaryCarriesTheRepositorysStylesheetAndScript() throws {
        for asset in WebAsset.allCases {
            let file = try ContentLibrary.builtIn().webAsset(asset)
            let repository = try String(contentsOfFile: ShippedContentTests.repositoryRoot + "/templates/web/" + asset.fileName, encoding: .utf8)
            #expect(file.text == repository && file.source == .binary && !file.text.isEmpty)
        }
        let script = try ContentLibrary.builtIn().webAsset(.script).text
        #expect(script.contains("EventSource(\"/web/events\")") && script.contains("fetch(\"/web/feed\"") && script.contains("dataset.live"))
        #expect(WebAsset.stylesheet.contentType == "text/css; charset=utf-8" && WebAsset.script.contentType == "text/javascript; charset=utf-8")
    }

    @Test func aFolderReplacesOneAssetAndTheOtherStaysBuiltIn() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("style.css", "body { color: red; }")
        let content = ContentLibrary.builtIn(folders: [.webPages: folder.path])
        #expect(try content.webAsset(.stylesheet) == ContentFile(kind: .webPages, name: "style.css", text: "body { color: red; }",
                                                                  source: .folder(folder.path)))
        #expect(try content.webAsset(.script).source == .binary)
        #expect(ContentCheck(content, kinds: [.webPages]).problems.isEmpty)
    }

    @Test func anOverrideThatCannotBeServedIsAConfigurationProblem() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try Data([0x62, 0xff, 0xfe]).write(to: URL(fileURLWithPath: folder.file("app.js")))
        let check = ContentCheck(ContentLibrary.builtIn(folders: [.webPages: folder.path]), kinds: [.webPages])
        #expect(check.problems.map(\.file) == [folder.file("app.js")])
        #expect(check.problems.first?.message == "not UTF-8 text")
    }
}
