import Foundation
import HelpdeskContent
import HelpdeskCore
@testable import HelpdeskGovernance
import HelpdeskJobs
@testable import HelpdeskServer
import HelpdeskShippedContent
import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import HelpdeskWeb
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Mustache
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
            #expect(Web.cookie("__Host-helpdesk_session", in: unpaired) == nil)
            // Wrong password and unknown user read the same.
            for user in ["alice", "mallory"] {
                let wrong = try await client.execute(uri: "/login", method: .post, headers: Web.formHeaders(cookie: nonceCookie),
                                                     body: Web.form([("user", user), ("password", "guess"), ("csrf", csrf), ("next", "/")]))
                #expect(wrong.status == .unauthorized)
                #expect(String(buffer: wrong.body).contains("Wrong user name or password."))
                #expect(Web.cookie("__Host-helpdesk_session", in: wrong) == nil)
            }
            // A session id sent in (fixation) is ignored: the new one is the server's.
            let planted = "__Host-helpdesk_session=v1.planted"
            let signedIn = try await client.execute(
                uri: "/login", method: .post, headers: Web.formHeaders(cookie: "\(nonceCookie); \(planted)"),
                body: Web.form([("user", "alice"), ("password", Web.password), ("csrf", csrf), ("next", "//evil.example/x")]))
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.headers[.location] == "/", "a next that is not a local path goes to /")
            let session = try #require(Web.cookie("__Host-helpdesk_session", in: signedIn))
            #expect(session != planted && session.count > "__Host-helpdesk_session=".count + 20)
            let setCookie = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix("__Host-helpdesk_session=") })
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

/// What the attacker review found: template escaping per scalar, sign-out that ends the session everywhere,
/// clicks only in threads that exist, a limit on queued work per person, and no lockout of a name's owner.
@Suite struct WebReviewFixTests {
    typealias Web = WebRoutesTests

    @Test func everyHTMLTemplateEscapesMarksThatJoinAnAngleBracketOrAQuote() throws {
        // A prepended concatenation mark before `<`, and a combining mark after `"` or `>`, make one
        // Character with it: swift-mustache's own escaping compared whole Characters and let them through.
        let hostile = "\u{0600}<img src=x onerror=alert(1)>\"\u{0301}>\u{0301}"
        let pages = try WebPages(ContentLibrary.builtIn())
        for template in ["web_message", "login"] {
            let html = pages.render(template, ["title": hostile, "message": hostile, "next": hostile, "error": hostile, "csrf": hostile])
            #expect(!html.contains("<img"), "\(template) let a tag through")
            let joinedQuote = "\"" + "\u{0301}"
            let lost = html.contains(joinedQuote)
            #expect(!lost, "\(template) let a quote through")
            #expect(html.contains("&lt;img"))
        }
        let email = try MustacheLibrary(templates: ContentLibrary.builtIn().files(.emailTemplates))
        let mail = email.render(["approver": hostile, "requester": hostile, "call": hostile], withTemplate: "approval_request.html") ?? ""
        #expect(!mail.isEmpty && !mail.contains("<img") && mail.contains("&lt;img"))
        let text = email.render(["approver": "<b>"], withTemplate: "approval_request.txt") ?? ""
        #expect(text.contains("<b>"), "plain-text emails stay unescaped")
    }

    @Test func signingOutEndsTheSessionForEveryReplicaSharingTheStore() async throws {
        let harness = try await Web.Harness()
        let alice = try harness.session("alice")
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            #expect(try await client.execute(uri: "/", method: .get, headers: [.cookie: alice.cookie]).status == .ok)
            let out = try await client.execute(uri: "/logout", method: .post, headers: Web.formHeaders(cookie: alice.cookie),
                                               body: Web.form([("csrf", alice.csrf)]))
            #expect(out.status == .seeOther)
            let after = try await client.execute(uri: "/", method: .get, headers: [.cookie: alice.cookie])
            #expect(after.status == .seeOther && after.headers[.location]?.hasPrefix("/login") == true, "the old cookie no longer signs in")
            let command = try await client.execute(uri: "/web/command", method: .post, headers: Web.formHeaders(cookie: alice.cookie),
                                                   body: Web.form([("text", "help"), ("csrf", alice.csrf)]))
            #expect(command.status == .forbidden)
            let again = try harness.session("alice")
            #expect(try await client.execute(uri: "/", method: .get, headers: [.cookie: again.cookie]).status == .ok, "a new sign-in works")
        }
    }

    @Test func aClickAnswersOnlyInAThreadThatExists() async throws {
        let harness = try await Web.Harness()
        let alice = try harness.session("alice")
        try await harness.store.apply(ChangeSet(slackMessages: [
            OutboxMessage(channel: OutboxMessage.webChannel, body: .object(["text": .string("root")]), threadKey: "web:1", isRoot: true),
        ]))
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            for (thread, expected) in [("web:1", HTTPResponse.Status.seeOther), ("message:42", .badRequest), ("", .seeOther),
                                       ("x\"><meta http-equiv=refresh>", .badRequest), ("web:2", .badRequest)] {
                let click = try await client.execute(uri: "/web/action", method: .post, headers: Web.formHeaders(cookie: alice.cookie),
                                                     body: Web.form([("kind", "approve"), ("value", "apr_none"), ("thread", thread), ("csrf", alice.csrf)]))
                #expect(click.status == expected, "thread \(thread)")
            }
        }
    }

    @Test func onePersonQueuesABoundedAmountOfWork() async throws {
        let harness = try await Web.Harness()
        let alice = try harness.session("alice")
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            // The bucket refills while the test runs (half a request a second): the refusal comes after the
            // limit and well before twice it.
            var statuses: [HTTPResponse.Status] = []
            while statuses.last != .tooManyRequests, statuses.count < 2 * WebDependencies.requestsPerPersonPerMinute {
                statuses.append(try await client.execute(uri: "/web/command", method: .post, headers: Web.formHeaders(cookie: alice.cookie),
                                                         body: Web.form([("text", "status"), ("csrf", alice.csrf)])).status)
            }
            #expect(statuses.last == .tooManyRequests)
            #expect(statuses.count > WebDependencies.requestsPerPersonPerMinute)
            #expect(statuses.dropLast().allSatisfy { $0 == .seeOther })
            let bob = try harness.session("bob")
            let other = try await client.execute(uri: "/web/command", method: .post, headers: Web.formHeaders(cookie: bob.cookie),
                                                 body: Web.form([("text", "status"), ("csrf", bob.csrf)]))
            #expect(other.status == .seeOther, "another person is not held up")
        }
    }

    @Test func guessingANameFromOneAddressDoesNotLockItsOwnerOut() {
        let throttle = LoginThrottle(failuresPerMinute: 3)
        let now = 1_000.0
        for _ in 1...3 {
            guard case .granted(let attempt) = throttle.check(source: "203.0.113.9", user: "dba2", now: now) else {
                Issue.record("refused too early")
                return
            }
            throttle.finish(attempt, succeeded: false, now: now)
        }
        guard case .limited = throttle.check(source: "203.0.113.9", user: "DBA2", now: now) else {
            Issue.record("the guessing address goes on")
            return
        }
        // An address that failed nothing this minute still gets its try; its failure counts.
        guard case .granted(let fresh) = throttle.check(source: "203.0.113.10", user: "dba2", now: now + 1) else {
            Issue.record("an address with no failure is refused: the name's owner is locked out")
            return
        }
        throttle.finish(fresh, succeeded: false, now: now + 1)
        guard case .limited = throttle.check(source: "203.0.113.10", user: "dba2", now: now + 2) else {
            Issue.record("an address that failed on a limited name goes on")
            return
        }
        guard case .granted(let owner) = throttle.check(source: "203.0.113.11", user: "dba2", now: now + 3) else {
            Issue.record("the owner from a clean address is refused")
            return
        }
        throttle.finish(owner, succeeded: true, now: now + 3)
        guard case .granted = throttle.check(source: "203.0.113.10", user: "dba2", now: now + 4) else {
            Issue.record("a sign-in clears the name's failures")
            return
        }
    }

    @Test func aBurstFromOneCleanAddressGetsOneTryAtALimitedName() {
        let throttle = LoginThrottle(failuresPerMinute: 2)
        for source in ["198.51.100.1", "198.51.100.2"] {
            guard case .granted(let attempt) = throttle.check(source: source, user: "dba2", now: 1000) else { Issue.record("refused early"); return }
            throttle.finish(attempt, succeeded: false, now: 1000)
        }
        // Two checks at once from a clean address: the first is its one try, the second waits for it.
        guard case .granted(let first) = throttle.check(source: "203.0.113.7", user: "dba2", now: 1001) else { Issue.record("no try"); return }
        guard case .limited = throttle.check(source: "203.0.113.7", user: "dba2", now: 1001) else {
            Issue.record("a second check in flight got a try of its own")
            return
        }
        throttle.release(first)
    }

    @Test func aVoteInAnotherThreadNeverEditsThatThreadsRoot() async throws {
        let harness = try await Web.Harness()
        let record = try await harness.requestTermination()
        let alertThread = "alertgroup:{}:{alertname=\"Locks\"}"
        try await harness.store.apply(ChangeSet(jobs: [WebActionJob.job(user: "bob", kind: .approve, value: record.id, thread: alertThread)]))
        let leased = try #require(try await harness.store.jobs.lease(owner: "test-host:1:web", limit: 1, duration: .seconds(60), now: Date()).first)
        let outcome = try await WebActionJob(context: harness.slack).run(leased, logger: Web.logger)
        #expect(outcome.followUp.slackMessages.map(\.method) == [.postMessage], "one line in the thread; the alert's root stays")
        let votes = try await harness.store.approvals.approval(id: record.id)?.votes ?? []
        #expect(votes.map(\.principal) == ["bob"], "the vote counted: this is the moved-on case, not a refusal")
        #expect(outcome.followUp.slackMessages.first?.threadKey == alertThread)
        try await harness.finish()
    }

    @Test func aFindingIsShownWholeOrNotAtAll() {
        let summary = "prod-db: 1 critical — PID 10151 (app) has been idle in transaction for 12s and blocks 5 session(s) (2 tools failed: x)"
        #expect(Governance.isWholeFinding("PID 10151 (app) has been idle in transaction for 12s and blocks 5 session(s)", of: summary))
        #expect(!Governance.isWholeFinding("PID 1015", of: summary))
        #expect(!Governance.isWholeFinding("PID 10151 (app)", of: summary))
        #expect(!Governance.isWholeFinding("", of: summary))
    }
}
