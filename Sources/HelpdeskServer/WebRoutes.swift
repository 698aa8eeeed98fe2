import Foundation
import HelpdeskConfig
import HelpdeskContent
import HelpdeskWeb
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import Hummingbird
import HTTPTypes
import Logging
import Mustache
import NIOCore

/// The web channel: the bot's feed at `/` with a command box, and views of approvals, incidents, the
/// audit log and alerts. A chat adapter, not a side door: commands and clicks become the same jobs
/// as Slack's (through the same gate), votes go through ``Governance/vote(on:by:approve:reason:via:)``.
///
/// Every page needs a signed-in person (``WebAuth``): others are sent to `/login` (pages), refused
/// with 403 (form posts) or 401 (`/web/events`). Every form post carries the session's CSRF token.
/// Every response carries the security headers of ``WebResponse``.
struct WebRoutes: Sendable {
    let web: WebDependencies
    let auth: WebAuth
    let store: any Store
    let governance: Governance?
    let directory: UserDirectory
    /// Which peers' `X-Forwarded-For` counts, for the login throttle's source address.
    let proxies: TrustedProxies
    /// Its hashing threads run the password checks too.
    let keys: BearerKeyVerifier
    let redactor: Redactor
    let alertmanager: AlertmanagerSettings
    let defaultChannel: String?

    init(_ dependencies: ServerDependencies, web: WebDependencies) {
        self.web = web
        auth = WebAuth(web: web, directory: dependencies.directory, store: dependencies.store)
        store = dependencies.store
        governance = dependencies.governance
        directory = dependencies.directory
        proxies = dependencies.settings.trustedProxies
        keys = dependencies.limits.keys
        redactor = dependencies.redactor
        alertmanager = dependencies.alertmanager
        defaultChannel = dependencies.defaultChannel
    }

    /// Form bodies are small: the largest field is a button's value (4,000 characters, percent-encoded).
    static let maxFormBytes = 32 * 1024

    func register(on router: Router<AppRequestContext>) {
        router.get("/login") { request, context in await loginPage(request, context) }
        router.post("/login") { request, context in await login(request, context) }
        router.post("/logout", use: form { await logout($0, $1, $2, $3) })
        router.get("/web/app.js") { _, _ in asset(.script) }
        router.get("/web/style.css") { _, _ in asset(.stylesheet) }
        router.get("/", use: page { await feed($0, $1, $2) })
        router.get("/web/feed", use: page { await feedFragment($0, $1, $2) })
        router.get("/web/events") { request, context in await events(request, context) }
        router.post("/web/command", use: form { await command($0, $1, $2, $3) })
        router.post("/web/action", use: form { await action($0, $1, $2, $3) })
        router.get("/web/approvals", use: page { await approvals($0, $1, $2) })
        router.get("/web/approvals/:id", use: page { await approval($0, $1, $2) })
        router.post("/web/approvals/:id", use: form { await vote($0, $1, $2, $3) })
        router.get("/web/incidents", use: page { await incidents($0, $1, $2) })
        router.get("/web/incidents/:id", use: page { await incident($0, $1, $2) })
        router.get("/web/incidents/:id/bundle", use: page { await bundle($0, $1, $2) })
        router.get("/web/audit", use: page { await audit($0, $1, $2) })
        router.get("/web/alerts", use: page { await alerts($0, $1, $2) })
    }

    typealias Handler = @Sendable (Request, AppRequestContext) async -> Response
    typealias Page = @Sendable (Request, AppRequestContext, WebVisitor) async -> Response
    typealias FormPost = @Sendable (Request, AppRequestContext, WebVisitor, [String: String]) async -> Response

    /// A page for signed-in people: anyone else is sent to sign in, and back here after.
    func page(_ handler: @escaping Page) -> Handler {
        { request, context in
            switch await auth.access(request, context: context) {
            case .signedIn(let visitor):
                return await handler(request, context, visitor)
            case .anonymous:
                var next = request.uri.path
                if let query = request.uri.query, !query.isEmpty { next += "?" + query }
                return WebResponse.redirect(to: "/login?next=" + Self.queryEncoded(next))
            case .refused(let status, let text):
                return message(status, title: "Not signed in", text, visitor: nil)
            }
        }
    }

    /// A form post of a signed-in person carrying this session's CSRF token; anything else is refused
    /// (403) before the form is looked at further.
    func form(_ handler: @escaping FormPost) -> Handler {
        { request, context in
            let visitor: WebVisitor
            switch await auth.access(request, context: context) {
            case .signedIn(let signedIn): visitor = signedIn
            case .anonymous: return message(.forbidden, title: "Not signed in", "Sign in first; nothing was done.", visitor: nil)
            case .refused(let status, let text): return message(status, title: "Not signed in", text, visitor: nil)
            }
            let fields: [String: String]
            switch await readForm(request, context) {
            case .success(let read): fields = read
            case .failure(let refusal): return message(refusal.status, title: "Form not valid", refusal.message, visitor: visitor)
            }
            guard auth.checkCSRF(fields["csrf"], for: visitor) else {
                context.logger.notice("web form refused: CSRF token missing or wrong", metadata: ["path": "\(request.uri.path)"])
                return message(.forbidden, title: "Form not valid", "This form did not come from your session's pages; nothing was done.",
                               visitor: visitor)
            }
            return await handler(request, context, visitor, fields)
        }
    }

    struct FormRefusal: Error {
        var status: HTTPResponse.Status
        var message: String
    }

    /// The fields of a form post, bounded by the server's body limit and ``maxFormBytes``.
    func readForm(_ request: Request, _ context: AppRequestContext) async -> Result<[String: String], FormRefusal> {
        var request = request
        guard let body = try? await request.collectBody(upTo: min(context.maxUploadSize, Self.maxFormBytes)) else {
            return .failure(FormRefusal(status: .contentTooLarge, message: "The form is too large; nothing was done."))
        }
        guard let fields = try? decodeForm(body.readableBytesView) else {
            return .failure(FormRefusal(status: .badRequest, message: "The form could not be read; nothing was done."))
        }
        return .success(fields)
    }

    // MARK: Pages

    /// What `web_head` needs: the title, who is signed in, the session's CSRF token (the logout form), the tab.
    func head(_ visitor: WebVisitor?, title: String, tab: WebTab? = nil) -> [String: Any] {
        var context = WebPageHead(title: title, user: visitor?.user.name, csrf: visitor?.csrf ?? "", tab: tab).view
        if visitor == nil { context["csrf"] = nil }
        return context
    }

    /// `template` rendered with `context`, as a page; a plain page saying so when the template is missing.
    func render(_ template: String, _ context: [String: Any], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        WebResponse.page(status, html: web.pages.render(template, context), headers: headers)
    }

    /// A page that only says something: a refusal, a missing record.
    func message(_ status: HTTPResponse.Status, title: String, _ text: String, visitor: WebVisitor?) -> Response {
        var context = head(visitor, title: title)
        context["message"] = text
        context["message_class"] = status.code < 400 ? "done" : "refused"
        return render("web_message", context, status: status)
    }

    func storeUnavailable(_ error: any Error, _ context: AppRequestContext, visitor: WebVisitor?) -> Response {
        context.logger.error("web page: the store failed", metadata: ["error": "\(error)"])
        return message(.serviceUnavailable, title: "Unavailable", "helpdesk cannot read its database right now; try again in a minute.",
                       visitor: visitor)
    }

    private func asset(_ asset: WebAsset) -> Response {
        guard let text = web.assets[asset] else { return WebResponse.page(.notFound, html: "") }
        var headers = WebResponse.securityHeaders
        headers[.contentType] = asset.contentType
        headers[.cacheControl] = "max-age=300"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Text

    /// `text` for a query parameter's value.
    static func queryEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "/"
    }

    /// Where to go after signing in: a local path only — one starting with `/` but not `//` or `/\`
    /// (a browser reads both as another host) and holding no control character; else `/`.
    private static let pathAndQuery = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/?=&%+:@,;!$*()".unicodeScalars)

    static func safeNext(_ next: String?) -> String {
        // Only what a URL path and query may hold unencoded (RFC 3986): no quotes, no angle brackets, no
        // space or control, nothing beyond ASCII — it goes back out in a form field and a Location header.
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), next.utf8.count <= 2000,
              next.unicodeScalars.allSatisfy({ $0.isASCII && Self.pathAndQuery.contains($0) })
        else { return "/" }
        return next
    }

    /// A form field, cut of surrounding space; `nil` when absent, empty, or longer than `limit` characters.
    static func field(_ fields: [String: String], _ name: String, limit: Int) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty, value.count <= limit else { return nil }
        return value
    }

    /// At most `limit` characters, with an ellipsis when cut.
    static func cut(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(max(0, limit - 1))) + "…"
    }

    static func time(_ date: Date?) -> String {
        date.map { $0.formatted(.iso8601) } ?? "-"
    }
}

/// What every web channel response carries.
enum WebResponse {
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// The email link's approval page: its style is inline (an emailed link opens it alone), and it runs no script at all.
    static let approvalLinkPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: contentSecurityPolicy,
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        .xContentTypeOptions: "nosniff",
    ]

    /// An HTML page, never cached.
    static func page(_ status: HTTPResponse.Status, html: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// 303 to `location` (a local path), with `Set-Cookie` values.
    static func redirect(to location: String, cookies: [String] = []) -> Response {
        var headers = securityHeaders
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: .seeOther, headers: headers)
    }
}
