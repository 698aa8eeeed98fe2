import Foundation
import HelpdeskCore
@testable import HelpdeskServer
import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import HelpdeskWeb
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Who the web channel lets in: the sign-in form (its CSRF pair, a new session every time, the same
/// answer for an unknown user, the throttle), the session's CSRF token on every form, the proxy header
/// only from its proxies, and `next` only to a local path.
@Suite struct WebSignInTests {
    typealias Web = WebRoutesTests

    @Test func signingInStartsANewSessionAndGoesOnToALocalPathOnly() async throws {
        let harness = try await Web.Harness()
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let page = try await client.execute(uri: "/login?next=/web/audit", method: .get)
            #expect(page.status == .ok)
            let nonceCookie = try #require(Web.cookie("helpdesk_login", in: page))
            let nonce = String(nonceCookie.dropFirst("helpdesk_login=".count))
            let csrf = harness.web.sessions.loginCSRF(nonce: nonce)
            // Without the login pair: refused before any password is looked at.
            let unpaired = try await client.execute(uri: "/login", method: .post, headers: Web.formHeaders(cookie: nil),
                                                    body: Web.form([("user", "alice"), ("password", Web.password), ("csrf", csrf)]))
            #expect(unpaired.status == .forbidden)
            #expect(Web.cookie("helpdesk_session", in: unpaired) == nil)
            // Wrong password and unknown user read the same.
            for user in ["alice", "mallory"] {
                let wrong = try await client.execute(uri: "/login", method: .post, headers: Web.formHeaders(cookie: nonceCookie),
                                                     body: Web.form([("user", user), ("password", "guess"), ("csrf", csrf), ("next", "/")]))
                #expect(wrong.status == .unauthorized)
                #expect(String(buffer: wrong.body).contains("Wrong user name or password."))
                #expect(Web.cookie("helpdesk_session", in: wrong) == nil)
            }
            // A session id sent in (fixation) is ignored: the new one is the server's.
            let planted = "helpdesk_session=v1.planted"
            let signedIn = try await client.execute(
                uri: "/login", method: .post, headers: Web.formHeaders(cookie: "\(nonceCookie); \(planted)"),
                body: Web.form([("user", "alice"), ("password", Web.password), ("csrf", csrf), ("next", "//evil.example/x")]))
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.headers[.location] == "/", "a next that is not a local path goes to /")
            let session = try #require(Web.cookie("helpdesk_session", in: signedIn))
            #expect(session != planted && session.count > "helpdesk_session=".count + 20)
            let setCookie = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix("helpdesk_session=") })
            for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
                #expect(setCookie.contains(attribute), "\(attribute) missing from \(setCookie)")
            }
            let feed = try await client.execute(uri: "/", method: .get, headers: [.cookie: session])
            #expect(feed.status == .ok)
        }
        let logins = try await harness.store.audit.latest(AuditFilter(kind: "web_login"), limit: 10)
        #expect(logins.count == 3)
        #expect(logins.first?.principal == "alice" && logins.first?.data.contains("\"success\"") == true)
        #expect(!logins.contains { $0.principal == "mallory" }, "an unknown name is not recorded")
        #expect(!logins.contains { $0.data.contains(Web.password) || $0.data.contains("guess") })
        try await harness.finish()
    }

    @Test func tooManyFailedSignInsAreRefusedWithoutHashing() async throws {
        let harness = try await Web.Harness()
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let page = try await client.execute(uri: "/login", method: .get)
            let nonceCookie = try #require(Web.cookie("helpdesk_login", in: page))
            let csrf = harness.web.sessions.loginCSRF(nonce: String(nonceCookie.dropFirst("helpdesk_login=".count)))
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<6 {
                let response = try await client.execute(uri: "/login", method: .post, headers: Web.formHeaders(cookie: nonceCookie),
                                                        body: Web.form([("user", "bob"), ("password", "nope"), ("csrf", csrf)]))
                statuses.append(response.status)
                if response.status == .tooManyRequests { #expect(response.headers[.retryAfter] != nil) }
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .unauthorized })
            #expect(statuses.last == .tooManyRequests)
            // The right password does not get past the throttle either.
            let right = try await client.execute(uri: "/login", method: .post, headers: Web.formHeaders(cookie: nonceCookie),
                                                 body: Web.form([("user", "bob"), ("password", Web.password), ("csrf", csrf)]))
            #expect(right.status == .tooManyRequests)
        }
        try await harness.finish()
    }

    @Test func formsWithoutTheSessionsCSRFTokenAreRefused() async throws {
        let harness = try await Web.Harness()
        let alice = try harness.session("alice")
        let bob = try harness.session("bob")
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let missing = try await client.execute(uri: "/web/command", method: .post, headers: Web.formHeaders(cookie: alice.cookie),
                                                   body: Web.form([("text", "status")]))
            #expect(missing.status == .forbidden)
            // Another session's token is not this one's.
            let foreign = try await client.execute(uri: "/web/command", method: .post, headers: Web.formHeaders(cookie: alice.cookie),
                                                   body: Web.form([("text", "status"), ("csrf", bob.csrf)]))
            #expect(foreign.status == .forbidden)
            let logout = try await client.execute(uri: "/logout", method: .post, headers: Web.formHeaders(cookie: alice.cookie),
                                                  body: Web.form([]))
            #expect(logout.status == .forbidden)
            #expect(try await harness.store.jobs.list(state: nil, limit: 10).isEmpty, "nothing was queued")
            let accepted = try await client.execute(uri: "/web/command", method: .post, headers: Web.formHeaders(cookie: alice.cookie),
                                                    body: Web.form([("text", "status"), ("csrf", alice.csrf)]))
            #expect(accepted.status == .seeOther)
            #expect(accepted.headers[.location] == "/")
        }
        let jobs = try await harness.store.jobs.list(state: nil, limit: 10)
        #expect(jobs.map(\.kind) == [WebCommandJob.kind])
        #expect(jobs.first?.payload.contains("\"alice\"") == true)
        try await harness.finish()
    }

    @Test func theIdentityHeaderFromAnUntrustedAddressIsRefused() async throws {
        let harness = try await Web.Harness()
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            // The test client's peer is not 192.0.2.10: the header does not sign anyone in, and says so.
            let header = HTTPField.Name("X-Forwarded-User")!
            let page = try await client.execute(uri: "/", method: .get, headers: [header: "alice"])
            #expect(page.status == .forbidden)
            let login = try await client.execute(uri: "/login", method: .get, headers: [header: "alice"])
            #expect(login.status == .forbidden)
            // Not even alongside a valid session.
            let session = try harness.session("alice")
            let both = try await client.execute(uri: "/", method: .get, headers: [header: "alice", .cookie: session.cookie])
            #expect(both.status == .forbidden)
        }
        try await harness.finish()
    }

    @Test func theIdentityHeaderFromATrustedProxySignsInItsUser() async throws {
        let harness = try await Web.Harness(identityProxy: "127.0.0.1/32")
        try await buildApplication(harness.dependencies).test(.live) { client in
            let header = HTTPField.Name("X-Forwarded-User")!
            let feed = try await client.execute(uri: "/", method: .get, headers: [header: "alice"])
            #expect(feed.status == .ok)
            #expect(String(buffer: feed.body).contains("alice"))
            #expect(try await client.execute(uri: "/", method: .get, headers: [header: "nobody"]).status == .forbidden)
            #expect(try await client.execute(uri: "/", method: .get).status == .seeOther, "without the header: sign in")
        }
        try await harness.finish()
    }

    @Test func nextGoesOnlyToLocalPaths() {
        #expect(WebRoutes.safeNext("/web/audit?kind=web_login") == "/web/audit?kind=web_login")
        for hostile in ["//evil.example", "/\\evil.example", "https://evil.example/", "evil", "", "/a\r\nSet-Cookie: x=1", "/a\\b"] {
            #expect(WebRoutes.safeNext(hostile) == "/", "\(hostile)")
        }
        #expect(WebRoutes.safeNext(nil) == "/")
    }
}
