import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskStore
import HelpdeskWeb
import Hummingbird
import HTTPTypes
import Logging

/// A signed-in person of the web channel, checked on this request.
struct WebVisitor: Sendable {
    var user: UserDirectory.User
    /// The cookie's session, or a proxy session (`proxy.NAME`) when a trusted proxy vouched.
    var session: WebSession
    /// What every form of this session carries.
    var csrf: String

    /// When the cookie stops counting; `nil` through the proxy header (it vouches on every request).
    var expires: Date? { session.viaProxy ? nil : session.expiresAt }

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
/// check. Every call into those types is in this file.
struct WebAuth: Sendable {
    let web: WebDependencies
    let directory: UserDirectory
    let store: any Store

    /// The visitor of `request`: through the proxy header when a trusted proxy sent it, else through
    /// the session cookie — valid only while its user is still in the directory with a password.
    func access(_ request: Request, context: AppRequestContext) async -> WebAccess {
        var header: String?
        if let name = web.settings.identityHeader.flatMap({ HTTPField.Name($0) }) {
            let values = request.headers[values: name]
            // Sent twice, the proxy's value cannot be told from the client's: it names nobody.
            header = values.count > 1 ? "" : values.first
        }
        // The TCP peer, never X-Forwarded-For.
        switch WebIdentity.resolve(settings: web.settings, peer: context.remoteAddress, headerValue: header, directory: directory) {
        case .user(let user):
            let session = web.sessions.proxySession(user: user.name)
            return .signedIn(WebVisitor(user: user, session: session, csrf: web.sessions.csrf(for: session)))
        case .untrustedSource:
            context.logger.notice("identity header from an untrusted address", metadata: ["peer": "\(context.remoteAddress)"])
            return .refused(.forbidden, "This address may not sign people in with the identity header.")
        case .unknownUser:
            context.logger.notice("identity header names nobody in the users directory", metadata: ["peer": "\(context.remoteAddress)"])
            return .refused(.forbidden, "The identity header names nobody helpdesk knows; ask an administrator to add you under users:.")
        case .none:
            break
        }
        guard let token = WebCookies.value(named: WebCookies.sessionName, in: request.headers[values: .cookie]),
              let session = web.sessions.verify(token: token), !session.viaProxy,
              let user = WebIdentity.person(for: session, in: directory)
        else { return .anonymous }
        // Signed out before its cookie expired (on any replica); a store that cannot say counts as signed out.
        do {
            if try await store.webSessions.isEnded(sessionID: session.id) { return .anonymous }
        } catch {
            context.logger.warning("cannot read ended web sessions; treating the visitor as signed out", metadata: ["error": "\(error)"])
            return .anonymous
        }
        return .signedIn(WebVisitor(user: user, session: session, csrf: web.sessions.csrf(for: session)))
    }

    /// Whether anyone can sign in at all: a person with a password, or a proxy header configured.
    var anyoneCanSignIn: Bool {
        web.settings.identityHeader != nil || directory.users.contains { $0.passwordHash != nil }
    }

    /// Whether a form's `csrf` field is this session's (compared in constant time).
    func checkCSRF(_ value: String?, for visitor: WebVisitor) -> Bool {
        guard let value, !value.isEmpty else { return false }
        return web.sessions.verifyCSRF(value, for: visitor.session)
    }

    /// A fresh login nonce: the form's `csrf` and the `Set-Cookie` that carries the nonce.
    func loginForm() -> (csrf: String, setCookie: String) {
        let nonce = web.sessions.loginNonce()
        return (web.sessions.loginCSRF(nonce: nonce), WebCookies.login(nonce: nonce))
    }

    /// Whether the login form's `csrf` matches the nonce in the `helpdesk_login` cookie.
    func checkLoginCSRF(_ value: String?, request: Request) -> Bool {
        guard let value, !value.isEmpty,
              let nonce = WebCookies.value(named: WebCookies.loginName, in: request.headers[values: .cookie])
        else { return false }
        return web.sessions.verifyLoginCSRF(value, nonce: nonce)
    }

    /// Takes a place for one password check of `user` from `source`, or says how many seconds to wait.
    func admit(source: String, user: String) -> LoginThrottle.Admission {
        web.throttle.check(source: source, user: user)
    }

    /// The password check as work for the hashing threads: one Argon2id verification (against a dummy
    /// hash for an unknown user, so the answer takes as long either way), counted by the throttle even
    /// when the client went away meanwhile.
    func passwordCheck(user: String, password: String, attempt: LoginThrottle.Attempt) -> @Sendable () -> UserDirectory.User? {
        let passwords = web.passwords
        let throttle = web.throttle
        return {
            let person = passwords.verify(user: user, password: password)
            throttle.finish(attempt, succeeded: person != nil)
            return person
        }
    }

    /// Gives back an attempt's place when its check never ran.
    func release(_ attempt: LoginThrottle.Attempt) {
        web.throttle.release(attempt)
    }

    /// The `Set-Cookie` of a new session for `user` (always a new session id: one sent in is ignored).
    func startSession(user: String) -> String {
        WebCookies.session(web.sessions.issue(user: user).token, maxAge: web.sessions.maxAgeSeconds)
    }

    /// The `Set-Cookie` that ends the session.
    var expiredSession: String { WebCookies.expiredSession() }

    /// The `Set-Cookie` that removes a used login nonce.
    var expiredLoginNonce: String { WebCookies.expiredLogin() }
}
