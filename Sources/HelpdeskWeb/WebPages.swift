import HelpdeskContent
import Mustache

/// The tabs of the web channel's navigation.
public enum WebTab: String, Sendable, CaseIterable {
    case feed, approvals, incidents, audit, alerts
}

/// What the `web_head` partial every page starts with shows: the title, and for a signed-in person
/// the navigation (the active tab marked) with the sign-out form.
public struct WebPageHead: Sendable, Equatable {
    public var title: String
    /// The signed-in person's name; `nil` on the sign-in page (no navigation).
    public var user: String?
    /// The form token of the session (or of the sign-in form).
    public var csrf: String
    public var tab: WebTab?

    public init(title: String, user: String?, csrf: String, tab: WebTab? = nil) {
        self.title = title
        self.user = user
        self.csrf = csrf
        self.tab = tab
    }

    /// `title`, `user` (when signed in), `csrf` and `nav_<tab>` for the active tab.
    public var view: [String: Any] {
        var view: [String: Any] = ["title": title, "csrf": csrf]
        if let user { view["user"] = user }
        if let tab { view["nav_\(tab.rawValue)"] = true }
        return view
    }
}

/// What the sign-in page shows besides the form.
public struct WebLoginView: Sendable, Equatable {
    /// `Wrong user name or password.` and the like, or `nil`.
    public var error: String?
    /// Where to go once signed in (already checked to be a local path).
    public var next: String
    /// The sign-in form's token (HMAC of the `helpdesk_login` cookie's nonce).
    public var csrf: String
    /// The name typed before, so a wrong password does not cost retyping it.
    public var userName: String?
    /// No user has a password and no proxy header is configured: nobody can sign in, and the page says how to change that.
    public var nobodyCanSignIn: Bool

    public init(error: String? = nil, next: String = "/", csrf: String, userName: String? = nil, nobodyCanSignIn: Bool = false) {
        self.error = error
        self.next = next
        self.csrf = csrf
        self.userName = userName
        self.nobodyCanSignIn = nobodyCanSignIn
    }
}

/// The web channel's pages, rendered from `templates/web/` (shipped in the binary, or overridden from
/// `approvals.pages_dir` file by file). Every page template starts `{{> web_head}}` and ends
/// `{{> web_foot}}`; `{{{…}}}` is used only for HTML made by ``MrkdwnHTML``.
///
///     let pages = try WebPages(ContentLibrary(configuration))
///     let html = pages.feedPage(threads, head: WebPageHead(title: "Feed", user: "dba1", csrf: token, tab: .feed))
public struct WebPages: Sendable {
    public let library: MustacheLibrary

    public init(templates: [ContentFile]) throws(ContentError) {
        library = try MustacheLibrary(templates: templates)
    }

    /// The web pages in force in `content`.
    public init(_ content: ContentLibrary) throws(ContentError) {
        try self.init(templates: content.files(.webPages))
    }

    /// `template` with `head`'s keys and `context`'s (which win); a template that is missing gives a
    /// short page saying so rather than an empty answer.
    public func render(_ template: String, head: WebPageHead, _ context: [String: Any] = [:]) -> String {
        render(template, head.view.merging(context) { _, page in page })
    }

    /// `template` with `context` alone: for fragments without the page around them (`feed_fragment`).
    public func render(_ template: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: template)
            ?? "<!doctype html><title>helpdesk</title><p>The page template \(HTMLText.escaped(template)) is missing.</p>"
    }

    /// The feed: navigation, the command box and `main#feed` holding the threads.
    public func feedPage(_ threads: [WebThread], head: WebPageHead) -> String {
        render("feed", head: head, ["threads": WebFeed.view(threads)])
    }

    /// The inside of `main#feed` alone (`GET /web/feed`, for the live refresh).
    public func feedFragment(_ threads: [WebThread], csrf: String) -> String {
        render("feed_fragment", ["threads": WebFeed.view(threads), "csrf": csrf])
    }

    /// The sign-in page, `form#login`.
    public func loginPage(_ login: WebLoginView) -> String {
        var context: [String: Any] = ["next": login.next, "no_passwords": login.nobodyCanSignIn]
        if let error = login.error { context["error"] = error }
        if let name = login.userName { context["login_user"] = name }
        return render("login", head: WebPageHead(title: "Sign in", user: nil, csrf: login.csrf), context)
    }
}
