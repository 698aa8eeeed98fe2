import Foundation
import HelpdeskConfig
@testable import HelpdeskCore
import HelpdeskTestSupport
import Testing

/// `web:` and the inline users' web passwords: read from the file and the environment, and each
/// mistake refused with its key path.
@Suite struct WebSettingsTests {
    static let key = "0123456789abcdef0123456789abcdef-web"  // 36 bytes

    private func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> HelpdeskConfiguration {
        try HelpdeskConfiguration(yaml: yaml, file: "test.yaml", environment: environment)
    }

    /// A cheap Argon2id PHC string for `password` (the server's parameters would cost 100 ms each).
    static func quickHash(_ password: String) -> String {
        Argon2idHash.make(secret: Array(password.utf8), salt: randomBytes(count: 16), memoryKiB: 8, iterations: 1, parallelism: 1, length: 32)
    }

    @Test func defaultsServeTheWebWithARandomKeyAndSayWhatThatCosts() throws {
        let web = try load("").web
        #expect(web.enabled)
        #expect(web.sessionKey == nil)
        #expect(web.sessionTTL == .seconds(12 * 3600))
        #expect(web.identityHeader == nil && web.identityProxies.isEmpty)
        #expect(web.loginFailuresPerMinute == 5)
        #expect(web.sessionKeyWarning?.contains("HELPDESK_WEB_SESSION_KEY") == true)
        #expect(try load("web:\n  enabled: false\n").web.sessionKeyWarning == nil, "nothing to warn about when the web is off")
    }

    @Test func everyKeyIsReadFromTheFile() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let keyFile = try folder.write("web-session-key", Self.key + "\n")
        let web = try load("""
            web:
              enabled: false
              session_key_file: \(keyFile)
              session_ttl: 30m
              identity_header: X-Forwarded-User
              identity_proxies: [127.0.0.1/32, "fd00::/8"]
              login_failures_per_minute: 9
            """).web
        #expect(!web.enabled)
        #expect(web.sessionKeyBytes == Array(Self.key.utf8), "the file's trailing newline is not part of the key")
        #expect(web.sessionKeyWarning == nil)
        #expect(web.sessionTTL == .seconds(1800))
        #expect(web.identityHeader == "X-Forwarded-User")
        #expect(web.identityProxies.isTrusted("127.0.0.1") && web.identityProxies.isTrusted("fd00::7"))
        #expect(!web.identityProxies.isTrusted("127.0.0.2"))
        #expect(web.loginFailuresPerMinute == 9)
    }

    @Test func theEnvironmentOverridesTheFile() throws {
        let configuration = try load("web:\n  session_ttl: 1h\n  identity_proxies: [10.0.0.5]\n", environment: [
            "HELPDESK_WEB_SESSION_KEY": Self.key, "HELPDESK_WEB_SESSION_TTL": "2h", "HELPDESK_WEB_ENABLED": "false",
            "HELPDESK_WEB_LOGIN_FAILURES_PER_MINUTE": "3", "HELPDESK_WEB_IDENTITY_HEADER": "X-Auth-Request-Email",
        ])
        let web = configuration.web
        #expect(web.sessionKeyBytes == Array(Self.key.utf8))
        #expect(web.sessionTTL == .seconds(7200))
        #expect(!web.enabled)
        #expect(web.loginFailuresPerMinute == 3)
        #expect(web.identityHeader == "X-Auth-Request-Email")
        #expect(web.identityProxies.isTrusted("10.0.0.5"))
        #expect(configuration.secrets.contains { $0.reveal() == Self.key }, "the key is masked in logs like every secret")
        let secret = try #require(web.sessionKey)
        #expect("\(secret)" == "<redacted>", "printing the settings never shows the key")
        let wrong = configurationIssues("", environment: ["HELPDESK_WEB_SESSION_TTL": "forever"])
        #expect(wrong.map(\.source) == ["environment HELPDESK_WEB_SESSION_TTL"])
    }

    @Test func aShortOrMissingOrInlineKeyIsRefusedWithoutShowingIt() throws {
        let short = configurationIssues("web: {}\n", environment: ["HELPDESK_WEB_SESSION_KEY": "too-short-secret-31-bytes-long!"])
        #expect(short.map(\.keyPath) == ["web"])
        #expect(short.first?.message.contains("31 bytes; at least 32") == true, "\(short)")
        #expect(short.first?.description.contains("too-short-secret") == false, "the key itself is never printed")
        let longEnough = "too-short-secret-31-bytes-long!!"  // 32 bytes
        #expect(try load("", environment: ["HELPDESK_WEB_SESSION_KEY": longEnough]).web.sessionKeyBytes?.count == 32)

        let missing = configurationIssues("web:\n  session_key_file: /nonexistent/web-key\n")
        #expect(missing.map(\.keyPath) == ["web.session_key_file"])
        let inline = configurationIssues("web:\n  session_key: \"\(Self.key)\"\n")
        #expect(inline.map(\.keyPath) == ["web.session_key"])
        #expect(inline.first?.message.contains("HELPDESK_WEB_SESSION_KEY") == true)
        #expect(inline.first?.message.contains(Self.key) == false)
    }

    @Test func theIdentityHeaderAndItsProxiesGoTogether() {
        #expect(configurationIssues("web:\n  identity_header: X-Forwarded-User\n").map(\.keyPath) == ["web.identity_header"])
        #expect(configurationIssues("web:\n  identity_header: X-Forwarded-User\n  identity_proxies: []\n").map(\.keyPath) == ["web.identity_header"])
        #expect(configurationIssues("web:\n  identity_proxies: [127.0.0.1/32]\n").map(\.keyPath) == ["web.identity_proxies"])
        #expect(configurationIssues("web:\n  identity_header: X-Forwarded-User\n  identity_proxies: [127.0.0.1/32]\n").isEmpty)
    }

    @Test func aBadProxyRangeOrHeaderNameIsRefused() {
        let valid = "  identity_header: X-Forwarded-User\n"
        for range in ["10.0.0.0/33", "not-an-address", "10.0.0.0/8/8", "0.0.0.0/0", "::/0"] {
            let found = configurationIssues("web:\n\(valid)  identity_proxies: [\"\(range)\"]\n")
            #expect(found.map(\.keyPath) == ["web.identity_proxies"], "\(range): \(found)")
        }
        #expect(configurationIssues("web:\n\(valid)  identity_proxies: [0.0.0.0/0]\n").first?.message.contains("every address") == true)
        for header in ["X Forwarded User", "X-User:", "Usér", "Cookie", "authorization", String(repeating: "X", count: 65)] {
            let found = configurationIssues("web:\n  identity_header: \"\(header)\"\n  identity_proxies: [127.0.0.1/32]\n")
            #expect(found.map(\.keyPath) == ["web.identity_header"], "\(header): \(found)")
        }
        #expect(configurationIssues("web:\n  login_failures_per_minute: 0\n").map(\.keyPath) == ["web.login_failures_per_minute"])
        #expect(configurationIssues("web:\n  session_ttl: 10s\n").map(\.keyPath) == ["web.session_ttl"])
        #expect(configurationIssues("web:\n  sesion_ttl: 1h\n").map(\.keyPath) == ["web.sesion_ttl"])
    }

    @Test func inlineUsersTakeAWebPassword() throws {
        let hash = Self.quickHash("inline pass phrase")
        let directory = try load("users:\n  ann:\n    roles: [dba]\n    password_argon2id: \"\(hash)\"\n  bob:\n    roles: [sre]\n").directory
        let ann = try #require(directory.user(named: "ann"))
        #expect(ann.passwordHash?.verify(Array("inline pass phrase".utf8)) == true)
        #expect(ann.passwordHash?.verify(Array("another phrase".utf8)) == false)
        #expect(directory.user(named: "bob")?.passwordHash == nil)

        let found = configurationIssues("users:\n  ann:\n    password_argon2id: \"$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\"\n")
        #expect(found.map(\.keyPath) == ["users.ann.password_argon2id"])
        #expect(found.first?.line == 3)
    }
}
