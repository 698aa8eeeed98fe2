import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore
import HelpdeskWeb
import Hummingbird
import HTTPTypes
import Logging

/// Sign-in and sign-out: `GET /login`, `POST /login`, `POST /logout`.
extension WebRoutes {
    static let wrongPassword = "Wrong user name or password."

    /// The login form with a fresh login nonce (its cookie and the form's CSRF token) — also for
    /// someone whose browser holds a session: it may be one planted there, and signing in replaces it.
    func loginPage(_ request: Request, _ context: AppRequestContext) async -> Response {
        let next = Self.safeNext(request.uri.queryParameters.get("next"))
        if case .refused(let status, let text) = await auth.access(request, context: context) {
            return message(status, title: "Not signed in", text, visitor: nil)
        }
        return loginForm(.ok, next: next, error: nil)
    }

    func loginForm(_ status: HTTPResponse.Status, next: String, error: String?, userName: String? = nil, headers: HTTPFields = [:]) -> Response {
        let form = auth.loginForm()
        var headers = headers
        headers.append(HTTPField(name: .setCookie, value: form.setCookie))
        let html = web.pages.loginPage(WebLoginView(error: error, next: next, csrf: form.csrf, userName: userName,
                                                    nobodyCanSignIn: !auth.anyoneCanSignIn))
        return WebResponse.page(status, html: html, headers: headers)
    }

    /// Checks the password on the hashing threads, after the login CSRF pair and the throttle: a
    /// source or user name over `web.login_failures_per_minute` gets 429 without any hash computed.
    /// Success starts a new session (any cookie sent in is ignored) and goes to `next`.
    func login(_ request: Request, _ context: AppRequestContext) async -> Response {
        let source = RateLimitMiddleware.source(of: request, context: context, proxies: proxies)
        let fields: [String: String]
        switch await readForm(request, context) {
        case .success(let read): fields = read
        case .failure(let refusal): return loginForm(refusal.status, next: "/", error: refusal.message)
        }
        let next = Self.safeNext(fields["next"])
        guard auth.checkLoginCSRF(fields["csrf"], request: request) else {
            context.logger.notice("web sign-in refused: login CSRF token missing or wrong", metadata: ["source": "\(source)"])
            // No nonce cookie at all is most often a browser that keeps no `Secure` cookie over plain HTTP.
            let noCookie = WebCookies.value(named: WebCookies.loginName, in: request.headers[values: .cookie]) == nil
            return loginForm(.forbidden, next: next, error: noCookie
                ? "Your browser sent no sign-in cookie: it keeps secure cookies only over HTTPS (or on localhost). Open helpdesk over HTTPS and try again."
                : "This sign-in form has expired; please try again.")
        }
        guard let name = Self.field(fields, "user", limit: 200), let password = fields["password"], !password.isEmpty,
              password.utf8.count <= PasswordCheck.maximumPasswordBytes
        else {
            return loginForm(.badRequest, next: next, error: "Enter your user name and password.")
        }
        let attempt: LoginThrottle.Attempt
        switch auth.admit(source: source, user: name) {
        case .granted(let granted):
            attempt = granted
        case .limited(let wait):
            context.logger.notice("web sign-in throttled", metadata: ["source": "\(source)"])
            return loginForm(.tooManyRequests, next: next, error: "Too many failed sign-ins; try again in \(wait) s.",
                             headers: [.retryAfter: String(wait)])
        }
        let checked: UserDirectory.User?
        switch await keys.hash(auth.passwordCheck(user: name, password: password, attempt: attempt)) {
        case .success(let found):
            checked = found
        case .failure(let refusal):
            if !refusal.jobRan { auth.release(attempt) }
            context.logger.warning("web sign-in not checked: the hashing threads are busy", metadata: ["reason": "\(refusal)"])
            return loginForm(.serviceUnavailable, next: next, error: "Sign-in is busy; try again in a moment.", headers: [.retryAfter: "5"])
        }
        guard let user = checked else {
            // A name nobody has may be a password typed in the wrong field: only a known name is recorded.
            let known = web.passwords.person(named: name)?.name
            await recordLogin(principal: known, source: source, succeeded: false, context)
            context.logger.notice("web sign-in failed", metadata: ["source": "\(source)", "user": "\(known ?? "(unknown)")"])
            // Only a name someone has goes back into the form: another may be a password typed in the wrong field.
            return loginForm(.unauthorized, next: next, error: Self.wrongPassword, userName: known)
        }
        guard await recordLogin(principal: user.name, source: source, succeeded: true, context) else {
            return loginForm(.serviceUnavailable, next: next, error: "helpdesk cannot record sign-ins right now; try again in a minute.")
        }
        context.logger.info("web sign-in", metadata: ["user": "\(user.name)", "source": "\(source)"])
        return WebResponse.redirect(to: next, cookies: [auth.startSession(user: user.name), auth.expiredLoginNonce])
    }

    /// Writes `web_login`; a success that cannot be recorded is refused, as an API request would be.
    @discardableResult
    func recordLogin(principal: String?, source: String, succeeded: Bool, _ context: AppRequestContext) async -> Bool {
        let event = AuditDraft(kind: "web_login", principal: principal, target: nil, data: .object([
            "source": .string(source), "outcome": .string(succeeded ? "success" : "failure"), "via": .string("web"),
            "request_id": .string(context.requestID),
        ]))
        do {
            try await store.apply(ChangeSet(audit: [event]))
            return true
        } catch {
            context.logger.error("cannot write the audit event of a web sign-in", metadata: ["error": "\(error)"])
            return false
        }
    }

    func logout(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor, _ fields: [String: String]) async -> Response {
        // The cookie is signed, not stored: its session id is recorded as ended, or it would still work elsewhere.
        if !visitor.session.viaProxy {
            do {
                try await store.webSessions.end(sessionID: visitor.session.id, expiresAt: visitor.session.expiresAt, now: Date())
            } catch {
                context.logger.error("cannot record a web sign-out", metadata: ["error": "\(error)"])
                return message(.serviceUnavailable, title: "Not signed out",
                               "helpdesk cannot record your sign-out right now (its database is unavailable); try again in a minute.", visitor: visitor)
            }
        }
        context.logger.info("web sign-out", metadata: ["user": "\(visitor.user.name)"])
        return WebResponse.redirect(to: "/login", cookies: [auth.expiredSession])
    }
}
