import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskWeb
import Hummingbird
import HTTPTypes
import Logging

/// A signed-in person of the web channel, checked on this request.
struct WebVisitor: Sendable {
    var user: UserDirectory.User
    /// Names the session: the cookie's session id, or `proxy.NAME` when a trusted proxy vouched.
    var sid: String
    /// When the cookie stops counting; `nil` through the proxy header (it vouches on every request).
    var expires: Date?
    /// What every form of this session carries.
    var csrf: String

    /// Who the web channel acts as: the users-directory person, as policy sees them (as Slack's does).
    var principal: Principal { Principal(id: user.name, roles: user.roles) }
}

/// Who is asking, as the web channel sees it.
enum WebAccess {
    case signedIn(WebVisitor)
    case anonymous
    /// The identity header came from an address not among `web.identity_proxies`, or named nobody.
    case refused(HTTPResponse.Status, String)
}

/// The web channel's sign-in, over HelpdeskWeb's sessions, login throttle, proxy identity and password
/// check. Every call into those types is in this file, so their exact signatures matter here only.
struct WebAuth: Sendable {
    let web: WebDependencies
    let directory: UserDirectory

    static let sessionCookie = "helpdesk_session"
    static let loginCookie = "helpdesk_login"

    /// The visitor of `request`: through the proxy header when a trusted proxy sent it, else through
    /// the session cookie — valid only while its user is still in the directory with a password.
    func access(_ request: Request, context: AppRequestContext, now: Date = Date()) -> WebAccess {
        let header = web.settings.identityHeader.flatMap { HTTPField.Name($0) }.flatMap { request.headers[$0] }
        // HelpdeskWeb: WebIdentity.resolve(peer:value:directory:) — the TCP peer, never X-Forwarded-For.
        switch web.identity.resolve(peer: context.remoteAddress, value: header, directory: directory) {
        case .user(let user):
            let sid = "proxy." + user.name
            return .signedIn(WebVisitor(user: user, sid: sid, expires: nil, csrf: web.sessions.csrf(for: sid)))
        case .untrustedSource:
            context.logger.notice("identity header from an untrusted address", metadata: ["peer": "\(context.remoteAddress)"])
            return .refused(.forbidden, "This address may not sign people in with the identity header.")
        case .unknownUser:
            context.logger.notice("identity header names nobody in the users directory", metadata: ["peer": "\(context.remoteAddress)"])
            return .refused(.forbidden, "The identity header names nobody helpdesk knows; ask an administrator to add you under users:.")
        case .none:
            break
        }
        // HelpdeskWeb: WebSessions.cookie(named:in:), verify(_:now:) -> session with sid, user, expires.
        guard let token = WebSessions.cookie(named: Self.sessionCookie, in: request.headers[values: .cookie]),
              let session = web.sessions.verify(token, now: now),
              let user = directory.user(named: session.user), user.passwordHash != nil
        else { return .anonymous }
        return .signedIn(WebVisitor(user: user, sid: session.sid, expires: session.expires, csrf: web.sessions.csrf(for: session.sid)))
    }

    /// Whether a form's `csrf` field is this session's (compared in constant time).
    func checkCSRF(_ value: String?, for visitor: WebVisitor) -> Bool {
        guard let value, !value.isEmpty else { return false }
        return web.sessions.verifyCSRF(value, sid: visitor.sid)
    }

    /// A fresh login nonce: the form's `csrf` and the `Set-Cookie` that carries the nonce.
    func loginForm() -> (csrf: String, setCookie: String) {
        let nonce = web.sessions.loginNonce()
        return (web.sessions.loginCSRF(nonce: nonce), web.sessions.loginCookie(nonce))
    }

    /// Whether the login form's `csrf` matches the nonce in the `helpdesk_login` cookie.
    func checkLoginCSRF(_ value: String?, request: Request) -> Bool {
        guard let value, !value.isEmpty,
              let nonce = WebSessions.cookie(named: Self.loginCookie, in: request.headers[values: .cookie])
        else { return false }
        return web.sessions.verifyLoginCSRF(value, nonce: nonce)
    }

    /// Seconds to wait when `source` or `user` failed too often in the last minute; `nil` to go on.
    func throttled(source: String, user: String, now: Date = Date()) -> Int? {
        web.throttle.check(source: source, user: user, now: now).map { max(1, Int($0.rounded(.up))) }
    }

    func recordFailure(source: String, user: String, now: Date = Date()) {
        web.throttle.recordFailure(source: source, user: user, now: now)
    }

    func recordSuccess(source: String, user: String) {
        web.throttle.recordSuccess(source: source, user: user)
    }

    /// The password check as work for the hashing threads: one Argon2id verification, against a dummy
    /// hash for an unknown user, so the answer takes as long either way.
    func passwordCheck(user: String, password: String) -> @Sendable () -> UserDirectory.User? {
        let passwords = web.passwords
        return { passwords.verify(user: user, password: password) }
    }

    /// The `Set-Cookie` of a new session for `user` (always a new session id: one sent in is ignored).
    func startSession(user: String, now: Date = Date()) -> String {
        web.sessions.sessionCookie(web.sessions.issue(user: user, now: now))
    }

    /// The `Set-Cookie` that ends the session.
    var expiredSession: String { WebSessions.expiredSessionCookie }

    /// The `Set-Cookie` that removes a used login nonce.
    var expiredLoginNonce: String { WebSessions.expiredLoginCookie }
}
