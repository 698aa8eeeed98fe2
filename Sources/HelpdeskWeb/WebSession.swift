import Foundation

/// One signed-in person of the web channel: from a session cookie, or from a trusted proxy's header.
public struct WebSession: Sendable, Equatable {
    /// The session id: 16 random bytes in base64url for a cookie session, `proxy.USER` for a proxy one.
    /// Forms' CSRF tokens are bound to it.
    public var id: String
    /// The users-directory name this session acts as (the principal policy sees).
    public var user: String
    public var expiresAt: Date
    /// Signed in by the reverse proxy's identity header, not a password: no cookie, no password needed.
    public var viaProxy: Bool

    public init(id: String, user: String, expiresAt: Date, viaProxy: Bool) {
        self.id = id
        self.user = user
        self.expiresAt = expiresAt
        self.viaProxy = viaProxy
    }
}
