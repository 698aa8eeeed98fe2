/// The web channel's two cookies, as `Set-Cookie` values, and reading them back from `Cookie` headers.
///
/// Both are `HttpOnly` (no script reads them), `Secure` (browsers treat http://localhost and
/// http://127.0.0.1 as secure, so the demo works; any other plain-HTTP host does not keep them) and
/// `SameSite=Strict` (no other site's page sends them).
///
/// ```swift
/// headers[.setCookie] = WebCookies.session(token, maxAge: sessions.maxAgeSeconds)
/// let token = WebCookies.value(named: WebCookies.sessionName, in: request.headers[values: .cookie])
/// ```
public enum WebCookies {
    /// The session cookie, for every path.
    /// `__Host-`: browsers take it only with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot
    /// set one (a second copy would sign the visitor out).
    public static let sessionName = "__Host-helpdesk_session"
    /// The login form's nonce, sent back only to `/login`.
    public static let loginName = "helpdesk_login"
    /// How long a login page may be left open before its form is refused (10 minutes).
    public static let loginMaxAge = 600
    /// `Cookie` headers longer than this together are not read (a browser's limit is about 4 KiB a cookie).
    public static let maximumHeaderBytes = 8192

    /// `Set-Cookie` for a new session.
    public static func session(_ token: String, maxAge: Int) -> String {
        "\(sessionName)=\(token); Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=\(max(0, maxAge))"
    }

    /// `Set-Cookie` that ends the session cookie (sign-out).
    public static func expiredSession() -> String {
        "\(sessionName)=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
    }

    /// `Set-Cookie` for the login form's nonce.
    public static func login(nonce: String) -> String {
        "\(loginName)=\(nonce); Path=/login; HttpOnly; Secure; SameSite=Strict; Max-Age=\(loginMaxAge)"
    }

    /// `Set-Cookie` that removes the login nonce once it has been used.
    public static func expiredLogin() -> String {
        "\(loginName)=; Path=/login; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
    }

    /// The value of cookie `name` in a request's `Cookie` headers (HTTP/2 may split them in several), or
    /// `nil` when it is absent or empty, when the headers are longer than ``maximumHeaderBytes``, or when
    /// the name appears more than once: a second cookie of the same name can only come from another path
    /// or a parent domain (cookie tossing), and neither may choose the session.
    public static func value(named name: String, in headers: [String]) -> String? {
        guard headers.reduce(0, { $0 + $1.utf8.count }) <= maximumHeaderBytes else { return nil }
        var found: String?
        for header in headers {
            for pair in header.split(separator: ";", omittingEmptySubsequences: true) {
                let trimmed = pair.trimmingHTTPWhitespace()
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                guard trimmed[..<equals].trimmingHTTPWhitespace() == name else { continue }
                guard found == nil else { return nil }
                found = String(trimmed[trimmed.index(after: equals)...].trimmingHTTPWhitespace())
            }
        }
        return found?.isEmpty == false ? found : nil
    }
}

extension Substring {
    /// Without spaces and tabs at either end (HTTP's optional whitespace; Foundation's trimming would
    /// also take Unicode spaces, which HTTP does not).
    func trimmingHTTPWhitespace() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
