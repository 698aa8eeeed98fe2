import Foundation
import HelpdeskConfig
@testable import HelpdeskCore
@testable import HelpdeskWeb
import Synchronization
import Testing

/// The web channel's sign-in without HTTP: signed session cookies and form tokens, the Cookie reader,
/// the login throttle, the proxy identity header and the password check.
@Suite struct WebAuthTests {
    static let key = Array("0123456789abcdef0123456789abcdef".utf8)
    static let otherKey = Array("fedcba9876543210fedcba9876543210".utf8)
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        private let time: Mutex<Date>
        init(_ date: Date) { time = Mutex(date) }
        var now: Date { time.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    private func sessions(_ clock: ManualClock, key: [UInt8] = WebAuthTests.key, ttl: Duration = .seconds(3600)) -> WebSessions {
        WebSessions(key: key, ttl: ttl, now: { clock.now })
    }

    private static func quickHash(_ password: String, memoryKiB: UInt32 = 8, iterations: UInt32 = 1) throws -> Argon2idHash {
        try Argon2idHash(encoded: Argon2idHash.make(secret: Array(password.utf8), salt: randomBytes(count: 16), memoryKiB: memoryKiB,
                                                    iterations: iterations, parallelism: 1, length: 32))
    }

    // MARK: Session tokens

    @Test func aTokenStandsForItsSessionUntilItExpires() {
        let clock = ManualClock(Self.start)
        let web = sessions(clock)
        let (token, session) = web.issue(user: "alice")
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 5 && parts[0] == "v1" && parts[3] == "\(Int(Self.start.timeIntervalSince1970) + 3600)")
        #expect(Base64URL.decode(String(parts[1]))?.count == 16, "the session id is 16 random bytes")
        #expect(Base64URL.decode(String(parts[2])) == Array("alice".utf8))
        #expect(session == WebSession(id: String(parts[1]), user: "alice", expiresAt: Self.start.addingTimeInterval(3600), viaProxy: false))
        #expect(web.verify(token: token) == session)
        #expect(web.issue(user: "alice").session.id != session.id, "every sign-in gets a new session id")
        clock.advance(3599)
        #expect(web.verify(token: token) == session)
        clock.advance(1)
        #expect(web.verify(token: token) == nil, "expired")
    }

    @Test func aTamperedOrForeignTokenIsRefused() {
        let clock = ManualClock(Self.start)
        let web = sessions(clock)
        let (token, _) = web.issue(user: "alice")
        var parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        #expect(web.verify(token: parts.joined(separator: ".")) != nil)
        let forged: [(String, [String])] = [
            ("another user", replacing(parts, at: 2, with: Base64URL.encode(Array("admin".utf8)))),
            ("a later expiry", replacing(parts, at: 3, with: String(Int(parts[3])! + 60))),
            ("another session id", replacing(parts, at: 1, with: Base64URL.encode(randomBytes(count: 16)))),
            ("another MAC", replacing(parts, at: 4, with: Base64URL.encode(randomBytes(count: 32)))),
            ("another version", replacing(parts, at: 0, with: "v2")),
            ("no MAC", Array(parts.prefix(4))),
            ("an extra part", parts + ["x"]),
        ]
        for (what, forgery) in forged {
            #expect(web.verify(token: forgery.joined(separator: ".")) == nil, "\(what)")
        }
        #expect(sessions(clock, key: Self.otherKey).verify(token: token) == nil, "signed with another key")
        parts[4].removeLast()
        #expect(web.verify(token: parts.joined(separator: ".")) == nil, "a truncated MAC")
        #expect(web.verify(token: "") == nil)
        #expect(web.verify(token: token + " ") == nil)
    }

    @Test func aTokenOverTheSizeLimitOrBeyondTheTTLIsRefused() {
        let clock = ManualClock(Self.start)
        let web = sessions(clock)
        #expect(web.verify(token: String(repeating: "a", count: WebSessions.maximumTokenBytes + 1)) == nil)
        let longest = String(repeating: "u", count: WebSessions.maximumUserBytes)
        #expect(web.verify(token: web.issue(user: longest).token)?.user == longest)
        #expect(web.verify(token: web.issue(user: longest + "u").token) == nil, "longer names are not signed in")
        // Shortening session_ttl shortens the sessions issued before.
        let (monthLong, _) = sessions(clock, ttl: .seconds(30 * 86400)).issue(user: "alice")
        #expect(web.verify(token: monthLong) == nil)
    }

    // MARK: Form tokens

    @Test func aFormTokenBelongsToOneSession() {
        let clock = ManualClock(Self.start)
        let web = sessions(clock)
        let alice = web.issue(user: "alice").session
        let again = web.issue(user: "alice").session
        let csrf = web.csrf(for: alice)
        #expect(web.verifyCSRF(csrf, for: alice))
        #expect(!web.verifyCSRF(csrf, for: again), "another session of the same person")
        #expect(!web.verifyCSRF(web.csrf(for: again), for: alice))
        #expect(!sessions(clock, key: Self.otherKey).verifyCSRF(csrf, for: alice))
        #expect(!web.verifyCSRF("", for: alice))
        let proxy = web.proxySession(user: "alice")
        #expect(proxy.id == "proxy.alice" && proxy.viaProxy && proxy.user == "alice")
        #expect(web.verifyCSRF(web.csrf(for: proxy), for: proxy))
        #expect(!web.verifyCSRF(csrf, for: proxy))
    }

    @Test func theLoginFormsTokenNeedsItsOwnNonce() {
        let web = sessions(ManualClock(Self.start))
        let nonce = web.loginNonce()
        let other = web.loginNonce()
        #expect(nonce != other && Base64URL.decode(nonce)?.count == 16)
        let csrf = web.loginCSRF(nonce: nonce)
        #expect(web.verifyLoginCSRF(csrf, nonce: nonce))
        #expect(!web.verifyLoginCSRF(csrf, nonce: other))
        #expect(!web.verifyLoginCSRF(web.loginCSRF(nonce: ""), nonce: ""), "a page without a nonce cookie is refused")
        #expect(!web.verifyLoginCSRF(web.loginCSRF(nonce: "chosen"), nonce: "chosen"), "a nonce not of our making")
        #expect(!sessions(ManualClock(Self.start), key: Self.otherKey).verifyLoginCSRF(csrf, nonce: nonce))
        let session = web.issue(user: "alice").session
        #expect(!web.verifyCSRF(csrf, for: session) && !web.verifyLoginCSRF(web.csrf(for: session), nonce: session.id),
                "login and session tokens are not interchangeable")
    }

    // MARK: Cookies

    @Test func cookiesAreHttpOnlySecureAndStrict() {
        #expect(WebCookies.session("tok", maxAge: 43200) == "__Host-helpdesk_session=tok; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=43200")
        #expect(WebCookies.expiredSession() == "__Host-helpdesk_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
        #expect(WebCookies.login(nonce: "n0") == "helpdesk_login=n0; Path=/login; HttpOnly; Secure; SameSite=Strict; Max-Age=600")
        #expect(WebCookies.expiredLogin() == "helpdesk_login=; Path=/login; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
        #expect(sessions(ManualClock(Self.start), ttl: .seconds(12 * 3600)).maxAgeSeconds == 43200)
    }

    @Test func theCookieReaderFindsOneCookieAndRefusesDuplicates() {
        let name = WebCookies.sessionName
        #expect(WebCookies.value(named: name, in: ["theme=dark; __Host-helpdesk_session=abc.def;other=1"]) == "abc.def")
        #expect(WebCookies.value(named: name, in: ["theme=dark", " \t__Host-helpdesk_session = abc \t"]) == "abc", "split headers, whitespace")
        #expect(WebCookies.value(named: name, in: ["x=1;;__Host-helpdesk_session=a=b"]) == "a=b", "the value runs to the next ;")
        #expect(WebCookies.value(named: name, in: ["__Host-helpdesk_session=one; __Host-helpdesk_session=two"]) == nil, "a tossed second cookie")
        #expect(WebCookies.value(named: name, in: ["__Host-helpdesk_session=one", "__Host-helpdesk_session=two"]) == nil)
        #expect(WebCookies.value(named: name, in: ["xhelpdesk_session=abc; helpdesk_sessionx=abc"]) == nil)
        #expect(WebCookies.value(named: name, in: ["__Host-helpdesk_session="]) == nil)
        #expect(WebCookies.value(named: name, in: ["Helpdesk_Session=abc"]) == nil, "cookie names are case-sensitive")
        #expect(WebCookies.value(named: name, in: []) == nil)
        let padding = "pad=" + String(repeating: "p", count: WebCookies.maximumHeaderBytes)
        #expect(WebCookies.value(named: name, in: ["__Host-helpdesk_session=abc; " + padding]) == nil, "a huge header is not read")
        #expect(WebCookies.value(named: WebCookies.loginName, in: ["__Host-helpdesk_session=s; helpdesk_login=n"]) == "n")
    }

    // MARK: Login throttle

    @Test func failuresFromOneAddressAreLimitedWhateverTheName() {
        let throttle = LoginThrottle(failuresPerMinute: 3)
        for name in ["ann", "bob", "cid"] { fail(throttle, source: "192.0.2.7", user: name, at: 1000) }
        guard case .limited(let wait) = throttle.check(source: "192.0.2.7", user: "dan", now: 1010) else {
            Issue.record("a fourth failure from one address a minute was admitted")
            return
        }
        #expect(wait == 50, "the first failure (at 1000) leaves the window at 1060")
        #expect(isGranted(throttle.check(source: "192.0.2.8", user: "dan", now: 1010)), "another address")
        #expect(isGranted(throttle.check(source: "192.0.2.7", user: "dan", now: 1060)), "a minute later")
    }

    @Test func failuresForOneNameAreLimitedWhateverTheAddressOrCase() {
        let throttle = LoginThrottle(failuresPerMinute: 3)
        for (index, name) in ["alice", "Alice", "ALICE"].enumerated() { fail(throttle, source: "198.51.100.\(index)", user: name, at: 1000) }
        // An address that failed on the name is held; one with no failure this minute gets its try (no lockout of the owner).
        #expect(!isGranted(throttle.check(source: "198.51.100.1", user: "aLiCe", now: 1001)))
        #expect(isGranted(throttle.check(source: "203.0.113.9", user: "aLiCe", now: 1001)))
        #expect(isGranted(throttle.check(source: "203.0.113.9", user: "bob", now: 1001)))
        // One IPv6 /64 is one caller.
        let six = LoginThrottle(failuresPerMinute: 2)
        fail(six, source: "2001:db8::1", user: "a", at: 1000)
        fail(six, source: "2001:db8::2", user: "b", at: 1000)
        #expect(!isGranted(six.check(source: "2001:db8::3", user: "c", now: 1000)))
        #expect(isGranted(six.check(source: "2001:db8:1::3", user: "c", now: 1000)))
    }

    @Test func aSignInClearsItsNamesFailuresButNotItsAddresss() {
        let throttle = LoginThrottle(failuresPerMinute: 3)
        fail(throttle, source: "10.1.0.1", user: "alice", at: 1000)
        fail(throttle, source: "10.1.0.2", user: "alice", at: 1000)
        guard case .granted(let success) = throttle.check(source: "10.1.0.3", user: "alice", now: 1001) else {
            Issue.record("the third attempt was refused")
            return
        }
        throttle.finish(success, succeeded: true, now: 1001)
        for source in ["10.1.0.4", "10.1.0.5"] { fail(throttle, source: source, user: "alice", at: 1002) }
        #expect(isGranted(throttle.check(source: "10.1.0.6", user: "alice", now: 1003)), "two failures since the sign-in, not four")
        fail(throttle, source: "10.1.0.1", user: "bob", at: 1004)
        fail(throttle, source: "10.1.0.1", user: "cid", at: 1004)
        #expect(!isGranted(throttle.check(source: "10.1.0.1", user: "dan", now: 1005)), "the address's failures stay")
    }

    @Test func attemptsUnderWayCountTowardTheLimit() {
        let throttle = LoginThrottle(failuresPerMinute: 2)
        guard case .granted(let first) = throttle.check(source: "10.2.0.1", user: "alice", now: 1000),
              case .granted = throttle.check(source: "10.2.0.1", user: "alice", now: 1000) else {
            Issue.record("two attempts at once were not both admitted")
            return
        }
        #expect(throttle.check(source: "10.2.0.1", user: "bob", now: 1000) == .limited(retryAfter: 1), "a burst gets no more checks")
        throttle.release(first)
        #expect(isGranted(throttle.check(source: "10.2.0.1", user: "bob", now: 1000)), "a check that never ran costs nothing")
    }

    @Test func theThrottleRemembersABoundedNumberOfAddressesAndNames() {
        let throttle = LoginThrottle(failuresPerMinute: 5, maxKeys: 100)
        for index in 0..<1000 {
            fail(throttle, source: "10.3.\(index / 256).\(index % 256)", user: "user-\(index)-" + String(repeating: "x", count: 1000), at: 1000)
        }
        let tracked = throttle.trackedKeys
        #expect(tracked.sources <= 100 && tracked.users <= 100, "\(tracked)")
        #expect(tracked.sources > 0 && tracked.users > 0)
        #expect(LoginThrottle.userKey(String(repeating: "Ä", count: 1000)).utf8.count <= WebSessions.maximumUserBytes)
    }

    // MARK: Proxy identity

    private static func directory(_ users: [UserDirectory.User]) -> UserDirectory {
        var directory = UserDirectory()
        directory.users = users
        return directory
    }

    private static func proxySettings() throws -> WebSettings {
        try HelpdeskConfiguration(yaml: "web:\n  identity_header: X-Forwarded-User\n  identity_proxies: [127.0.0.1/32, \"fd00::/8\"]\n",
                                  file: "test.yaml").web
    }

    private func resolved(_ value: String?, peer: String? = "127.0.0.1", settings: WebSettings, in directory: UserDirectory) -> String {
        switch WebIdentity.resolve(settings: settings, peer: peer, headerValue: value, directory: directory) {
        case .none: "none"
        case .user(let person): "user \(person.name)"
        case .untrustedSource: "untrusted"
        case .unknownUser: "unknown"
        }
    }

    @Test func theIdentityHeaderNamesAPersonOnlyFromAnIdentityProxy() throws {
        let settings = try Self.proxySettings()
        let people = Self.directory([UserDirectory.User(name: "alice", email: "alice@example.org"), UserDirectory.User(name: "bob")])
        #expect(resolved(nil, settings: settings, in: people) == "none", "no header: the cookie or the form")
        #expect(resolved("alice", settings: settings, in: people) == "user alice")
        #expect(resolved(" ALICE\t", settings: settings, in: people) == "user alice", "any case, HTTP whitespace")
        #expect(resolved("Alice@Example.org", settings: settings, in: people) == "user alice", "by email")
        #expect(resolved("alice", peer: "127.0.0.1:53211", settings: settings, in: people) == "user alice")
        #expect(resolved("alice", peer: "fd00::5", settings: settings, in: people) == "user alice")
        #expect(resolved("alice", peer: "::ffff:127.0.0.1", settings: settings, in: people) == "user alice", "IPv4 on a dual-stack listener")
        for peer in ["127.0.0.2", "10.0.0.9", "[::1]:8080", "not an address"] {
            #expect(resolved("alice", peer: peer, settings: settings, in: people) == "untrusted", "\(peer)")
        }
        #expect(resolved("alice", peer: nil, settings: settings, in: people) == "untrusted")
        #expect(resolved(nil, peer: "10.0.0.9", settings: settings, in: people) == "none", "no header from anywhere is fine")
        for value in ["carol", "", "   ", "ali\nce", "alice\u{7F}", String(repeating: "a", count: 257)] {
            #expect(resolved(value, settings: settings, in: people) == "unknown", "\(value.debugDescription)")
        }
        // Not configured: the header means nothing, from anyone.
        #expect(resolved("alice", settings: WebSettings(), in: people) == "none")
    }

    @Test func aNameThatMatchesTwoPeopleInDifferentCasesNamesNobody() throws {
        let settings = try Self.proxySettings()
        let people = Self.directory([UserDirectory.User(name: "Ann"), UserDirectory.User(name: "ann")])
        #expect(resolved("ann", settings: settings, in: people) == "user ann")
        #expect(resolved("Ann", settings: settings, in: people) == "user Ann")
        #expect(resolved("ANN", settings: settings, in: people) == "unknown")
    }

    @Test func aSessionLastsOnlyWhileItsPersonMaySignIn() throws {
        let web = sessions(ManualClock(Self.start))
        let hash = try Self.quickHash("pw")
        let people = Self.directory([UserDirectory.User(name: "alice", passwordHash: hash), UserDirectory.User(name: "bob")])
        #expect(WebIdentity.person(for: web.issue(user: "alice").session, in: people)?.name == "alice")
        #expect(WebIdentity.person(for: web.issue(user: "bob").session, in: people) == nil, "bob has no password any more")
        #expect(WebIdentity.person(for: web.proxySession(user: "bob"), in: people)?.name == "bob", "the proxy needs none")
        #expect(WebIdentity.person(for: web.issue(user: "carol").session, in: people) == nil, "removed")
        #expect(WebIdentity.person(for: web.issue(user: "ALICE").session, in: people) == nil, "a session names its person exactly")
    }

    // MARK: Passwords

    @Test func aPasswordSignsInItsPersonOnly() throws {
        let people = Self.directory([
            UserDirectory.User(name: "alice", passwordHash: try Self.quickHash("alice's pass phrase")),
            UserDirectory.User(name: "bob", passwordHash: try Self.quickHash("bob's pass phrase")),
            UserDirectory.User(name: "carol"),
        ])
        let passwords = PasswordCheck(directory: people)
        #expect(passwords.verify(user: "alice", password: "alice's pass phrase")?.name == "alice")
        #expect(passwords.verify(user: "Alice", password: "alice's pass phrase")?.name == "alice", "names in any case")
        #expect(passwords.verify(user: "alice", password: "bob's pass phrase") == nil)
        #expect(passwords.verify(user: "bob", password: "alice's pass phrase") == nil)
        #expect(passwords.verify(user: "carol", password: "") == nil)
        #expect(passwords.verify(user: "carol", password: "anything") == nil, "no password: no sign-in")
        #expect(passwords.verify(user: "dave", password: "alice's pass phrase") == nil)
    }

    @Test func unknownNamesAreCheckedAgainstADummyHashLikeTheRealOnes() throws {
        let common = try Self.quickHash("a", memoryKiB: 16, iterations: 2)
        let dummy = PasswordCheck.dummyHash(like: [try Self.quickHash("b"), common, try Self.quickHash("c", memoryKiB: 16, iterations: 2)])
        #expect([dummy.memoryKiB, dummy.iterations, dummy.parallelism] == [16, 2, 1], "the parameters most hashes have")
        let none = PasswordCheck.dummyHash(like: [])
        #expect([none.memoryKiB, none.iterations, none.parallelism] == [65_536, 3, 4], "hash-key's, without any")
        #expect(PasswordCheck.dummyHash(like: [common]) != PasswordCheck.dummyHash(like: [common]), "random, so nobody knows a preimage")
    }

    private func fail(_ throttle: LoginThrottle, source: String, user: String, at now: Double) {
        guard case .granted(let attempt) = throttle.check(source: source, user: user, now: now) else {
            Issue.record("\(user) from \(source) was refused before failing")
            return
        }
        throttle.finish(attempt, succeeded: false, now: now)
    }

    private func isGranted(_ admission: LoginThrottle.Admission) -> Bool {
        if case .granted = admission { return true }
        return false
    }

    private func replacing(_ parts: [String], at index: Int, with value: String) -> [String] {
        var copy = parts
        copy[index] = value
        return copy
    }
}
