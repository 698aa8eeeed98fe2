import HelpdeskConfig

/// Who a request is, by the trusted reverse proxy's identity header (`web.identity_header`).
///
/// The header is believed only from a TCP peer in `web.identity_proxies`: the connection's own
/// address, never `X-Forwarded-For`, which anyone can write. It names a person of the users directory
/// by name, else by email.
///
/// ```swift
/// switch WebIdentity.resolve(settings: web, peer: peerAddress, headerValue: value, directory: directory) {
/// case .none: …                  // no header: cookie session or the sign-in form
/// case .user(let person): …      // signed in as person.name: sessions.proxySession(user: person.name)
/// case .untrustedSource: …       // 403, log "identity header from an untrusted address"
/// case .unknownUser: …           // 403
/// }
/// ```
public enum WebIdentity: Sendable {
    /// No identity header (or none is configured): the request signs in with a cookie or the form.
    case none
    case user(UserDirectory.User)
    /// The header came from a peer that is not one of the identity proxies.
    case untrustedSource
    /// The header names nobody in the directory (or more than one person, or is not a name at all).
    case unknownUser

    /// Header values longer than this are no name.
    public static let maximumValueBytes = 256

    /// Resolves the identity header of one request.
    ///
    /// - Parameters:
    ///   - peer: the TCP peer's address as text (`10.0.0.5`, `::1`); `nil` when unknown (not believed).
    ///   - headerValue: the header's value, `nil` when absent. A request carrying it twice should pass
    ///     `""` (the caller cannot tell which one the proxy set), which names nobody.
    public static func resolve(settings: WebSettings, peer: String?, headerValue: String?, directory: UserDirectory) -> WebIdentity {
        guard settings.identityHeader != nil, let headerValue else { return .none }
        guard let peer, settings.identityProxies.isTrusted(TrustedProxies.hostPart(peer)) else { return .untrustedSource }
        let value = String(Substring(headerValue).trimmingHTTPWhitespace())
        guard !value.isEmpty, value.utf8.count <= maximumValueBytes, !value.unicodeScalars.contains(where: isControl) else { return .unknownUser }
        let person = match(value, in: directory.users, by: { $0.name }) ?? match(value, in: directory.users, by: { $0.email })
        return person.map(WebIdentity.user) ?? .unknownUser
    }

    /// The directory person a session stands for, if they may still be signed in: present under the same
    /// name, and still holding a password unless the proxy signed them in. A removed person (or one whose
    /// password was removed) is signed out at their next request.
    public static func person(for session: WebSession, in directory: UserDirectory) -> UserDirectory.User? {
        guard let person = directory.user(named: session.user) else { return nil }
        return session.viaProxy || person.passwordHash != nil ? person : nil
    }

    /// The one person whose field equals `value` exactly, else the one whose field equals it in any case;
    /// `nil` when nobody matches, or several do in different cases (`Ann` and `ann`): no guessing.
    static func match(_ value: String, in users: [UserDirectory.User], by field: (UserDirectory.User) -> String?) -> UserDirectory.User? {
        if let exact = users.first(where: { field($0) == value }) { return exact }
        let lowered = value.lowercased()
        let found = users.filter { field($0)?.lowercased() == lowered }
        return found.count == 1 ? found[0] : nil
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
