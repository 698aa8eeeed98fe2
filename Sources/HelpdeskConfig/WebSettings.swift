import Foundation
import HelpdeskCore

/// `web:` — the web channel served at `/`: its session cookies, its sign-in, and an optional trusted
/// reverse-proxy identity header.
public struct WebSettings: Sendable {
    /// Shortest session key accepted: an HMAC-SHA256 key shorter than its output weakens it.
    public static let minimumSessionKeyBytes = 32

    /// Whether `helpdesk serve` serves the web channel at all.
    public var enabled = true
    /// Signs session cookies and CSRF tokens; from `HELPDESK_WEB_SESSION_KEY` or `web.session_key_file`.
    /// `nil`: a random key per process (see ``sessionKeyWarning``).
    public var sessionKey: Secret?
    /// How long a sign-in lasts (the cookie's Max-Age and the expiry signed into it).
    public var sessionTTL: Duration = .seconds(12 * 3600)
    /// A header a trusted reverse proxy sets to the signed-in person's name or email (`X-Forwarded-User`);
    /// believed only from ``identityProxies``. `nil`: only the sign-in form.
    public var identityHeader: String?
    /// The TCP peers (not `X-Forwarded-For`) whose ``identityHeader`` is believed.
    public var identityProxies = TrustedProxies()
    /// Failed sign-ins a minute per source address and, separately, per user name, before 429.
    public var loginFailuresPerMinute = 5

    public init() {}

    /// The session key's bytes, when one is configured.
    public var sessionKeyBytes: [UInt8]? { sessionKey.map { Array($0.reveal().utf8) } }

    /// What `serve` logs at start when the web channel signs with a key of its own making: sessions end
    /// at every restart and a replica does not accept another's cookies. `nil` when nothing is amiss.
    public var sessionKeyWarning: String? {
        guard enabled, sessionKey == nil else { return nil }
        return "no web session key: a random one is made at start, so web sign-ins end when the server restarts "
            + "and are not shared by replicas; set HELPDESK_WEB_SESSION_KEY or web.session_key_file "
            + "(at least \(Self.minimumSessionKeyBytes) bytes: openssl rand -hex 32)"
    }

    init(_ section: ConfigSection) {
        enabled = section.bool("enabled", default: enabled)
        sessionKey = section.secret("session_key", environment: "HELPDESK_WEB_SESSION_KEY")
        if let key = sessionKey, key.reveal().utf8.count < Self.minimumSessionKeyBytes {
            // The message never holds the key, only its length.
            section.reportSection("the session key (HELPDESK_WEB_SESSION_KEY or web.session_key_file) is \(key.reveal().utf8.count) bytes; "
                                  + "at least \(Self.minimumSessionKeyBytes) are needed: use a random one, such as the output of `openssl rand -hex 32`")
            sessionKey = nil
        }
        sessionTTL = section.duration("session_ttl", default: sessionTTL, range: .seconds(60) ... .seconds(30 * 86400))
        loginFailuresPerMinute = section.int("login_failures_per_minute", default: loginFailuresPerMinute, range: 1...1000)
        readIdentity(section)
        section.finish()
    }

    /// `identity_header` and `identity_proxies` go together: a header believed from nobody is a typo,
    /// and proxies without a header name would trust nothing.
    private mutating func readIdentity(_ section: ConfigSection) {
        let header = section.optionalString("identity_header").flatMap { $0.isEmpty ? nil : $0 }
        if let header, !Self.isHeaderName(header) {
            section.report("identity_header", "expected a header name of letters, digits and - (such as X-Forwarded-User), got \"\(header)\"")
        } else if let header, Self.reservedHeaders.contains(header.lowercased()) {
            section.report("identity_header", "\(header) carries something else already; name the header the proxy sets for the "
                           + "signed-in person, such as X-Forwarded-User")
        } else {
            identityHeader = header
        }
        let listed = section.stringList("identity_proxies")
        var ranges: [TrustedProxies.Range] = []
        for text in listed {
            guard let range = TrustedProxies.range(text) else {
                section.report("identity_proxies", "expected addresses or CIDR ranges such as 127.0.0.1/32 or 10.0.0.0/8, got \"\(text)\"")
                continue
            }
            guard range.prefix > 0 else {
                section.report("identity_proxies", "\(text) is every address: anyone could send \(header ?? "the identity header") "
                               + "and be signed in as anyone; list the reverse proxy's own addresses")
                continue
            }
            ranges.append(range)
        }
        identityProxies = TrustedProxies(ranges: ranges)
        if header != nil, listed.isEmpty {
            section.report("identity_header", "needs web.identity_proxies: the addresses of the reverse proxy that sets it "
                           + "(anyone else could send the header and be signed in as anyone)")
        } else if header == nil, !listed.isEmpty {
            section.report("identity_proxies", "needs web.identity_header: the header that proxy sets to the signed-in person, "
                           + "such as X-Forwarded-User")
        }
        // Never a header without the proxies it is believed from.
        if ranges.isEmpty { identityHeader = nil }
    }

    /// Headers that mean something else to this server or to HTTP itself.
    private static let reservedHeaders: Set<String> = [
        "authorization", "cookie", "host", "content-length", "content-type", "transfer-encoding", "x-forwarded-for", "connection",
    ]

    /// An HTTP field name: RFC 9110's token, at most 64 characters.
    static func isHeaderName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count) else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
            }
        }
    }
}
