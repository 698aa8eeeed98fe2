import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskIncidents
import HelpdeskJobs
import HelpdeskOrchestrator
@testable import HelpdeskServer
import HelpdeskShippedContent
@testable import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import HelpdeskWeb
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing
import Yams
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The web channel over the router, as a browser drives it: signing in, CSRF, the proxy header, the
/// command box and buttons as jobs answered in the web channel, votes via "web", the headers.
@Suite struct WebRoutesTests {
    static let password = "correct horse battery staple"
    static let slackTemplates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("templates/slack").path
    static let policy = """
        version: "1"
        policies:
          - name: production
            rules:
              - {action: read, effect: allow}
              - action: destructive
                effect: require_approval
                conditions: {approval_quorum: 2, approvers: [role:dba], approval_ttl: 30m}
        """
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A store, a gate whose destructive calls need two DBAs, three people with passwords (alice and
    /// bob are DBAs, oncall asks), and the web channel on, wired as `helpdesk serve` wires it.
    struct Harness: Sendable {
        let folder: TemporaryDirectory
        let store: SQLiteStore
        let governance: Governance
        let slack: SlackCommandContext
        let web: WebDependencies
        let dependencies: ServerDependencies

        /// `identityProxy`: the peers the identity header counts from (the router tests' peer is none).
        init(identityProxy: String = "192.0.2.10/32") async throws {
            folder = try TemporaryDirectory()
            store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
            let hash = try Argon2idHash(encoded: Argon2idHash.make(secret: Array(WebRoutesTests.password.utf8)))
            var configuration = try HelpdeskConfiguration(yaml: """
                web:
                  identity_header: X-Forwarded-User
                  identity_proxies: [\(identityProxy)]
                """, file: "test.yaml", environment: ["HELPDESK_WEB_SESSION_KEY": String(repeating: "k", count: 48)])
            configuration.directory.users = [.init(name: "alice", roles: ["dba"], passwordHash: hash),
                                             .init(name: "bob", roles: ["dba"], passwordHash: hash),
                                             .init(name: "oncall", roles: ["oncall"], passwordHash: hash)]
            let agent = FakeAgent(
                tools: [FakeAgent.read("connection_stats"),
                        ToolDescriptor(name: "terminate_backend", agent: "database", action: .destructive, summary: "",
                                       parameters: [ToolParameter("pid", .integer, required: true, "pid")])],
                answers: ["connection_stats": .output(.object(["total": .number(3)])),
                          "terminate_backend": .output(.object(["terminated": .bool(true)]))])
            var inventory = Infrastructure()
            inventory.dbServers = [.init(id: "prod-db", connectionString: "host=x")]
            let policies = PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: WebRoutesTests.policy).policies))
            governance = Governance(policies: policies, store: store, agents: [agent], inventory: inventory, directory: configuration.directory,
                                    redactor: Redactor(), defaultTTL: .seconds(3600), toolTimeout: .seconds(5), logger: WebRoutesTests.logger)
            let orchestrator = Orchestrator(
                runbooks: [], gate: governance, inventory: inventory,
                options: .init(toolTimeout: .seconds(5), bundleDirectory: folder.file("bundles"), bundleRetention: .seconds(86400)),
                store: store, logger: WebRoutesTests.logger)
            let renderer = try await SlackRenderer(directory: WebRoutesTests.slackTemplates)
            slack = SlackCommandContext(orchestrator: orchestrator, governance: governance, store: store, directory: configuration.directory,
                                        renderer: renderer, commandName: "/helpdesk", clusters: [])
            web = try #require(try Composition.webDependencies(configuration, content: ContentLibrary.builtIn(), renderStored: { _ in nil }))
            var settings = ServerSettings()
            settings.listen = ListenAddress(host: "127.0.0.1", port: 0)
            var dependencies = ServerDependencies(settings: settings, store: store, workerIsRunning: { true },
                                                  registry: PrometheusCollectorRegistry(), logger: WebRoutesTests.logger)
            dependencies.governance = governance
            dependencies.directory = configuration.directory
            dependencies.slack = slack
            dependencies.web = web
            self.dependencies = dependencies
        }

        /// A signed-in session of `user`: its cookie and the CSRF token its forms carry.
        func session(_ user: String) throws -> (cookie: String, csrf: String) {
            let (token, session) = web.sessions.issue(user: user)
            return ("__Host-helpdesk_session=\(token)", web.sessions.csrf(for: session))
        }

        func requestTermination(by name: String = "oncall") async throws -> ApprovalRecord {
            let outcome = try await governance.request(ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(4242)]),
                                                      by: governance.principal(named: name), via: "test")
            guard case .pendingApproval(let record, _) = outcome else { throw ToolError("expected a pending approval, got \(outcome)") }
            return record
        }

        func finish() async throws {
            try await store.close()
            folder.remove()
        }
    }

    static func form(_ fields: [(String, String)]) -> ByteBuffer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return ByteBuffer(string: fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&"))
    }

    static func formHeaders(cookie: String?) -> HTTPFields {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let cookie { headers[.cookie] = cookie }
        return headers
    }

    /// `name=value` of the `Set-Cookie` of `name`.
    static func cookie(_ name: String, in response: TestResponse) -> String? {
        response.headers[values: .setCookie].compactMap { $0.split(separator: ";").first.map(String.init) }.first { $0.hasPrefix(name + "=") }
    }

    @Test func someoneNotSignedInIsSentToSignInOrRefused() async throws {
        let harness = try await Harness()
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let feed = try await client.execute(uri: "/", method: .get)
            #expect(feed.status == .seeOther)
            #expect(feed.headers[.location] == "/login?next=/")
            let approvals = try await client.execute(uri: "/web/approvals?status=all", method: .get)
            #expect(approvals.status == .seeOther)
            #expect(approvals.headers[.location] == "/login?next=/web/approvals%3Fstatus%3Dall")
            let command = try await client.execute(uri: "/web/command", method: .post, headers: Self.formHeaders(cookie: nil),
                                                   body: Self.form([("text", "status")]))
            #expect(command.status == .forbidden)
            #expect(try await client.execute(uri: "/web/events", method: .get).status == .unauthorized)
            // A cookie that is not a session of ours is nobody.
            let forged = try await client.execute(uri: "/", method: .get, headers: [.cookie: "__Host-helpdesk_session=v1.abc.YWxpY2U.9999999999.bad"])
            #expect(forged.status == .seeOther)
        }
        #expect(try await harness.store.jobs.list(state: nil, limit: 10).isEmpty, "nothing was queued")
        try await harness.finish()
    }

    @Test func aWebCommandIsAnsweredAsSlackAnswersItInTheWebChannel() async throws {
        let harness = try await Harness()
        try await harness.store.apply(ChangeSet(jobs: [WebCommandJob.job(user: "alice", text: "help")]))
        let leased = try #require(try await harness.store.jobs.lease(owner: "test-host:1:web", limit: 1, duration: .seconds(60), now: Date()).first)
        let outcome = try await WebCommandJob(context: harness.slack).run(leased, logger: Self.logger)
        let messages = outcome.followUp.slackMessages
        #expect(messages.count == 2)
        #expect(messages.allSatisfy { $0.channel == OutboxMessage.webChannel && $0.threadKey == "web:\(leased.id)" })
        #expect(messages.first?.isRoot == true && messages.first?.body["text"]?.description == "*alice* ran `/helpdesk help`")
        var thread: [OutboxMessage] = []
        let slackAnswer = await SlackCommandJob(context: harness.slack).answer(.help, principal: harness.slack.principal(webUser: "alice"),
                                                                               thread: &thread)
        #expect(messages.last?.body == SlackViews.webAPIBody(slackAnswer), "the same answer as the slash command's")
        #expect(try await harness.store.jobs.complete(leased, result: outcome.result, followUp: outcome.followUp, now: Date()))
        let feed = try await harness.store.slackOutbox.feed(limit: 10)
        #expect(feed.filter { $0.channel == OutboxMessage.webChannel && $0.threadKey == "web:\(leased.id)" }.count == 2)
        try await harness.finish()
    }

    @Test func aWebButtonVotesThroughTheGateViaWebAndAnswersInItsThread() async throws {
        let harness = try await Harness()
        let record = try await harness.requestTermination()
        try await harness.store.apply(ChangeSet(jobs: [WebActionJob.job(user: "bob", kind: .approve, value: record.id, thread: "approval:\(record.id)")]))
        let leased = try #require(try await harness.store.jobs.lease(owner: "test-host:1:web", limit: 1, duration: .seconds(60), now: Date()).first)
        let outcome = try await WebActionJob(context: harness.slack).run(leased, logger: Self.logger)
        // The request's card is edited in place (its progress) and one line says who voted.
        let messages = outcome.followUp.slackMessages
        #expect(messages.map(\.threadKey) == ["approval:\(record.id)", "approval:\(record.id)"])
        #expect(messages.map(\.method) == [.update, .postMessage])
        #expect(messages.last?.body["text"]?.description.contains("bob") == true)
        #expect(messages.allSatisfy { $0.channel == OutboxMessage.webChannel })
        let votes = try await harness.store.approvals.approval(id: record.id)?.votes ?? []
        #expect(votes.map(\.principal) == ["bob"] && votes.map(\.via) == ["web"])
        try await harness.finish()
    }

    @Test func aVoteOnTheApprovalPageIsRecordedViaWeb() async throws {
        let harness = try await Harness()
        let record = try await harness.requestTermination()
        let alice = try harness.session("alice")
        let oncall = try harness.session("oncall")
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let detail = try await client.execute(uri: "/web/approvals/\(record.id)", method: .get, headers: [.cookie: alice.cookie])
            #expect(detail.status == .ok)
            let html = String(buffer: detail.body)
            #expect(html.contains("id=\"approval\"") && html.contains("data-status=\"pending\""))
            #expect(html.contains("0 of 2 approvals") && html.contains("id=\"vote\""))
            let vote = try await client.execute(uri: "/web/approvals/\(record.id)", method: .post, headers: Self.formHeaders(cookie: alice.cookie),
                                                body: Self.form([("decision", "approve"), ("reason", "blocks checkout"), ("csrf", alice.csrf)]))
            #expect(vote.status == .ok)
            let voted = String(buffer: vote.body)
            #expect(voted.contains("class=\"notice") && voted.contains("1 of 2 approvals") && voted.contains("blocks checkout"))
            let again = try await client.execute(uri: "/web/approvals/\(record.id)", method: .post, headers: Self.formHeaders(cookie: alice.cookie),
                                                 body: Self.form([("decision", "approve"), ("csrf", alice.csrf)]))
            #expect(again.status == .conflict)
            let requester = try await client.execute(uri: "/web/approvals/\(record.id)", method: .post,
                                                     headers: Self.formHeaders(cookie: oncall.cookie),
                                                     body: Self.form([("decision", "approve"), ("csrf", oncall.csrf)]))
            #expect(requester.status == .forbidden)
            let list = try await client.execute(uri: "/web/approvals", method: .get, headers: [.cookie: alice.cookie])
            #expect(String(buffer: list.body).contains("data-id=\"\(record.id)\""))
        }
        let stored = try #require(try await harness.store.approvals.approval(id: record.id))
        #expect(stored.status == .pending)
        #expect(stored.votes.map(\.principal) == ["alice"])
        #expect(stored.votes.first?.via == "web")
        try await harness.finish()
    }

    @Test func everyPageCarriesTheSecurityHeaders() async throws {
        let harness = try await Harness()
        let alice = try harness.session("alice")
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            var responses = [("/login", try await client.execute(uri: "/login", method: .get))]
            for path in ["/", "/web/feed", "/web/approvals", "/web/incidents", "/web/audit", "/web/alerts", "/web/approvals/apr_none"] {
                responses.append((path, try await client.execute(uri: path, method: .get, headers: [.cookie: alice.cookie])))
            }
            for (path, response) in responses {
                #expect(response.status == (path == "/web/approvals/apr_none" ? .notFound : .ok), "\(path)")
                #expect(response.headers[.contentSecurityPolicy] == Self.contentSecurityPolicy, "\(path)")
                #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(path)")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin", "\(path)")
                #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(path)")
                #expect(response.headers[.cacheControl] == "no-store", "\(path)")
                #expect(response.headers[.contentType] == "text/html; charset=utf-8", "\(path)")
            }
            let audit = String(buffer: responses.first { $0.0 == "/web/audit" }!.1.body)
            #expect(audit.contains("id=\"chain\"") && audit.contains("verified ("))
            let redirect = try await client.execute(uri: "/web/alerts", method: .get)
            #expect(redirect.headers[.contentSecurityPolicy] == Self.contentSecurityPolicy)
        }
        try await harness.finish()
    }

    @Test func webRoutesAreOffWithoutTheWebChannel() async throws {
        let harness = try await Harness()
        var dependencies = harness.dependencies
        dependencies.web = nil
        try await Application(router: buildRouter(dependencies)).test(.router) { client in
            let root = try await client.execute(uri: "/", method: .get)
            let login = try await client.execute(uri: "/login", method: .get)
            #expect(root.status == .notFound)
            #expect(login.status == .notFound)
        }
        try await harness.finish()
    }

    @Test func eventStreamsAreCappedPerProcess() async throws {
        let harness = try await Harness()
        let alice = try harness.session("alice")
        var slots: [WebEventStreams.Slot]? = (0..<harness.web.streams.limit).compactMap { index in harness.web.streams.admit(person: "p\(index / 4)") }
        #expect(slots?.count == 64 && harness.web.streams.admit(person: "someone else") == nil)
        #expect(WebEventStreams(limit: 64).admit(person: "a") != nil)
        let one = WebEventStreams(limit: 64)
        let mine = (0..<5).compactMap { _ in one.admit(person: "alice") }
        #expect(mine.count == one.perPerson, "one person's tabs take at most their share")
        #expect(one.admit(person: "bob") != nil)
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let response = try await client.execute(uri: "/web/events", method: .get, headers: [.cookie: alice.cookie])
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.retryAfter] != nil)
        }
        #expect(harness.web.streams.count == 64 && slots != nil)
        slots = nil
        #expect(harness.web.streams.count == 0, "a released slot gives its place back")
        try await harness.finish()
    }

    @Test(.timeLimit(.minutes(2)))
    func anOpenEventStreamDoesNotHoldUpShutdown() async throws {
        let harness = try await Harness()
        let alice = try harness.session("alice")
        // Returned from the test, so the stream is still open while the server shuts down after it. The blocking
        // socket read runs off the cooperative pool (on 2 cores it would hold half of it).
        let (held, shutdownStarted) = try await buildApplication(harness.dependencies).test(.live) { client in
            let port = try #require(client.port)
            let request = "GET /web/events HTTP/1.1\r\nHost: localhost\r\nCookie: \(alice.cookie)\r\n\r\n"
            let held = try await withBlockingIO { try HeldConnection(port: port, request: request, until: ": open") }
            return (held, ContinuousClock.now)
        }
        let shutdown = ContinuousClock.now - shutdownStarted
        #expect(held.received.hasPrefix("HTTP/1.1 200") && held.received.contains("text/event-stream"))
        // Only the shutdown is timed. A stream that ignored it would hold the server until the client left (never:
        // `held` is open here), its next keepalive (15 s) or the 60 s idle timeout; the time limit catches the
        // first, this bound the others.
        #expect(shutdown < .seconds(12), "the stream ended with the graceful shutdown (took \(shutdown))")
        try await harness.finish()
    }

    @Test func theIncidentViewShowsTheBundlesFindingsWithRunButtonsAndServesTheBundle() async throws {
        let harness = try await Harness()
        let alice = try harness.session("alice")
        let id = "inc_20260101-120000_abc123"
        let diagnosis = #"""
            {"findings": [{"rule": "blocking", "tool": "blocking_locks", "severity": "critical",
              "summary": "session 4242 <idle in transaction> blocks 9 others", "evidence": {"pid": 4242, "blocked": 9},
              "recommended_actions": [], "advice": "end it, then fix the <app> & its pool", "count": 3}],
             "recommended_actions": [{"call": {"tool": "terminate_backend", "target": "prod-db", "arguments": {"pid": 4242}},
                                      "reason": "it holds the lock"}]}
            """#
        let bundle = IncidentBundle(id: id, created: Date(), files: [("manifest.json", Data("{}".utf8)), ("diagnosis.json", Data(diagnosis.utf8))])
        let written = try bundle.write(into: harness.folder.file("bundles"))
        let member = try #require(try IncidentBundle.member(IncidentBundle.diagnosisMember, id: id, archive: try bundle.archive()))
        #expect(String(decoding: member, as: UTF8.self) == diagnosis)
        #expect(try IncidentBundle.member("absent.json", id: id, archive: try bundle.archive()) == nil)
        #expect(throws: BundleReadError.self) { try IncidentBundle.member("diagnosis.json", id: id, archive: Data("not gzip".utf8)) }
        try await harness.store.apply(ChangeSet(incidents: [IncidentRecord(
            id: id, createdAt: Date(), target: "prod-db", trigger: "alert: PostgresLockPileUp", summary: "a session blocks 9 others",
            severity: "critical", findingCount: 1, bundlePath: written.path, bundleBytes: written.bytes)]))
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let page = try await client.execute(uri: "/web/incidents/\(id)", method: .get, headers: [.cookie: alice.cookie])
            #expect(page.status == .ok)
            let html = String(buffer: page.body)
            #expect(html.contains("id=\"incident\""))
            #expect(html.contains("session 4242 &lt;idle in transaction&gt; blocks 9 others"), "escaped, once")
            #expect(html.contains("<em>Advice:</em> end it, then fix the &lt;app&gt; &amp; its pool"), "the advice, escaped as the summary is")
            #expect(html.contains("<span class=\"count\">(×3)</span>"), "a grouped finding says how many it stands for")
            #expect(html.contains("class=\"action\"") && html.contains("value=\"run_action\"") && html.contains(alice.csrf))
            #expect(html.contains("id=\"bundle\""))
            let download = try await client.execute(uri: "/web/incidents/\(id)/bundle", method: .get, headers: [.cookie: alice.cookie])
            #expect(download.status == .ok)
            #expect(download.headers[.contentType] == "application/gzip")
            #expect(download.headers[.contentDisposition] == "attachment; filename=\"\(id).tar.gz\"")
            #expect(Data(download.body.readableBytesView) == FileManager.default.contents(atPath: written.path))
            #expect(try await client.execute(uri: "/web/incidents/inc_none/bundle", method: .get, headers: [.cookie: alice.cookie]).status == .notFound)
        }
        try await harness.finish()
    }

    @Test(arguments: StoreKind.allCases)
    func theNewestAuditEventsMatchingAFilterComeFirst(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            try await store.apply(ChangeSet(audit: [
                AuditDraft(kind: "web_login", principal: "alice", target: nil),
                AuditDraft(kind: "tool_call", principal: "alice", target: "prod-db"),
                AuditDraft(kind: "web_login", principal: "bob", target: nil),
                AuditDraft(kind: "web_login", principal: "alice", target: nil),
            ]))
            let logins = try await store.audit.latest(AuditFilter(principal: "alice", kind: "web_login"), limit: 10)
            #expect(logins.map(\.seq) == [4, 1])
            #expect(try await store.audit.latest(AuditFilter(target: "prod-db"), limit: 10).map(\.seq) == [2])
            #expect(try await store.audit.latest(AuditFilter(), limit: 2).map(\.seq) == [4, 3])
            #expect(try await store.audit.latest(AuditFilter(principal: "nobody"), limit: 10).isEmpty)
        }
    }
}

/// A raw HTTP/1.1 connection held open after the first part of a streamed response arrived.
final class HeldConnection: Sendable {
    let descriptor: Int32
    let received: String

    /// Connects to 127.0.0.1:`port`, sends `request`, and reads (5 s at most) until `marker` arrives.
    init(port: Int, request: String, until marker: String) throws {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw ToolError("no socket") }
        do {
            received = try Self.exchange(descriptor, port: port, request: request, until: marker)
        } catch {
            close(descriptor)
            throw error
        }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    private static func exchange(_ descriptor: Int32, port: Int, request: String, until marker: String) throws -> String {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ToolError("cannot connect to port \(port)") }
        // A timeval of 30 s as (seconds, microseconds): the C struct's members resolve only flakily under
        // MemberImportVisibility in this target. Generous: a loaded test run answers late, not never.
        var timeout: (Int, Int) = (30, 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<(Int, Int)>.size))
        let bytes = Array(request.utf8)
        guard send(descriptor, bytes, bytes.count, 0) == bytes.count else { throw ToolError("cannot send the request") }
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !text.contains(marker) {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { throw ToolError("the connection ended before \(marker): \(text)") }
            text += String(decoding: buffer[0..<count], as: UTF8.self)
        }
        return text
    }
}
