import Crypto
import Foundation
import HelpdeskConfig
import HelpdeskCore

/// Session cookies and form tokens of the web channel, signed with HMAC-SHA256 under one key.
///
/// - A session token is `v1.SID.USER.EXPIRES.MAC`: SID 16 random bytes and USER the user name, both in
///   base64url, EXPIRES Unix seconds, MAC = base64url(HMAC-SHA256(key, "v1|SID|NAME|EXPIRES")) with the
///   name as it is. Nothing is stored server-side: a token is valid while its MAC matches, it has not
///   expired, and (checked by the caller, ``WebIdentity/person(for:in:)``) its user still may sign in.
/// - A form's CSRF token is base64url(HMAC-SHA256(key, "csrf|SID")): bound to one session.
/// - The login form, before any session, carries base64url(HMAC-SHA256(key, "login|NONCE")) with the
///   nonce in a short-lived cookie of its own.
///
/// ```swift
/// let sessions = WebSessions(key: key, ttl: .seconds(12 * 3600))
/// let (token, session) = sessions.issue(user: "alice")     // Set-Cookie: WebCookies.session(token, …)
/// sessions.verify(token: token)?.user                      // "alice"
/// sessions.verifyCSRF(sessions.csrf(for: session), for: session)  // true
/// ```
public struct WebSessions: Sendable {
    /// Longer cookie values are refused unread: a real token is about 110 bytes.
    public static let maximumTokenBytes = 512
    /// Longer user names are not signed in (ids are short; this bounds every token).
    public static let maximumUserBytes = 256

    public let ttl: Duration
    private let key: SymmetricKey
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - key: the HMAC key, at least 32 bytes (``WebSettings`` refuses a shorter one).
    ///   - ttl: how long a session lasts from its sign-in.
    ///   - now: the clock (tests pass a fixed one).
    public init(key: [UInt8], ttl: Duration, now: @escaping @Sendable () -> Date = { Date() }) {
        self.key = SymmetricKey(data: key)
        self.ttl = ttl
        self.now = now
    }

    /// From the `web:` settings: their key, else a random one made now (see ``WebSettings/sessionKeyWarning``).
    public init(settings: WebSettings, now: @escaping @Sendable () -> Date = { Date() }) {
        self.init(key: settings.sessionKeyBytes ?? randomBytes(count: 32), ttl: settings.sessionTTL, now: now)
    }

    /// The cookie's `Max-Age`: the TTL in whole seconds.
    public var maxAgeSeconds: Int { max(1, Int(ttl.seconds)) }

    // MARK: Sessions

    /// A new session for `user` with a fresh random id: every sign-in gets one, whatever cookie came in.
    public func issue(user: String) -> (token: String, session: WebSession) {
        let sid = Base64URL.encode(randomBytes(count: 16))
        let expires = Int64(now().timeIntervalSince1970) + Int64(maxAgeSeconds)
        let mac = Base64URL.encode(self.mac("v1|\(sid)|\(user)|\(expires)"))
        let token = "v1.\(sid).\(Base64URL.encode(Array(user.utf8))).\(expires).\(mac)"
        return (token, WebSession(id: sid, user: user, expiresAt: Date(timeIntervalSince1970: TimeInterval(expires)), viaProxy: false))
    }

    /// The session a cookie's token stands for, or `nil` when it is malformed, too long, forged (its MAC
    /// is compared in constant time), expired, or expires later than this TTL allows (so shortening
    /// `session_ttl` shortens sessions already issued).
    public func verify(token: String) -> WebSession? {
        guard token.utf8.count <= Self.maximumTokenBytes else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0] == "v1",
              let sidBytes = Base64URL.decode(parts[1]), sidBytes.count == 16,
              let userBytes = Base64URL.decode(parts[2]), (1...Self.maximumUserBytes).contains(userBytes.count),
              let user = String(bytes: userBytes, encoding: .utf8),
              (1...12).contains(parts[3].utf8.count), parts[3].utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let expires = Int64(parts[3]),
              let mac = Base64URL.decode(parts[4]), mac.count == 32
        else { return nil }
        guard constantTimeEquals(mac, self.mac("v1|\(parts[1])|\(user)|\(parts[3])")) else { return nil }
        let current = Int64(now().timeIntervalSince1970)
        guard current < expires, expires <= current + Int64(maxAgeSeconds) + 60 else { return nil }
        return WebSession(id: parts[1], user: user, expiresAt: Date(timeIntervalSince1970: TimeInterval(expires)), viaProxy: false)
    }

    /// The session of a person the trusted proxy's header named: no cookie, valid for this request.
    public func proxySession(user: String) -> WebSession {
        WebSession(id: "proxy.\(user)", user: user, expiresAt: now().addingTimeInterval(ttl.seconds), viaProxy: true)
    }

    // MARK: Form tokens

    /// The CSRF token every form of this session carries.
    public func csrf(for session: WebSession) -> String {
        Base64URL.encode(mac("csrf|\(session.id)"))
    }

    /// Whether a form's `csrf` field belongs to this session (constant time).
    public func verifyCSRF(_ token: String, for session: WebSession) -> Bool {
        guard token.utf8.count <= Self.maximumTokenBytes else { return false }
        return constantTimeEquals(Array(token.utf8), Array(csrf(for: session).utf8))
    }

    /// A fresh nonce for the login page's cookie (`helpdesk_login`).
    public func loginNonce() -> String {
        Base64URL.encode(randomBytes(count: 16))
    }

    /// The login form's CSRF token for the nonce in its cookie.
    public func loginCSRF(nonce: String) -> String {
        Base64URL.encode(mac("login|\(nonce)"))
    }

    /// Whether the login form's `csrf` field matches the nonce its cookie carried: a nonce of the right
    /// shape (a forged page cannot pick an empty one) and its MAC, compared in constant time.
    public func verifyLoginCSRF(_ token: String, nonce: String) -> Bool {
        guard token.utf8.count <= Self.maximumTokenBytes, Base64URL.decode(nonce)?.count == 16 else { return false }
        return constantTimeEquals(Array(token.utf8), Array(loginCSRF(nonce: nonce).utf8))
    }

    private func mac(_ message: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key))
    }
}
