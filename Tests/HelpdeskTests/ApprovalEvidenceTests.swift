import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskMail
import HelpdeskOrchestrator
import HelpdeskShippedContent
@testable import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Mustache
import Testing
import Yams

/// Approvers decide from facts: an approval request keeps what the action does, the incident and
/// finding behind it and the session it ends, and Slack, the email and the page show them.
@Suite struct ApprovalEvidenceTests {
    static let incident = "inc_20261124-115000_ab12cd"
    static let finding = "PID 19957 (billing, application \"billing-worker\") is idle in transaction and blocks 3 sessions"
    static let blocker = SessionEvidence(
        pid: 19957, user: "billing", application: "billing-worker", client: "10.0.4.7", state: "idle in transaction",
        waitEventType: "Client", waitEvent: "ClientRead", query: "UPDATE accounts SET balance = balance - 1\n   WHERE id = 1",
        transactionAgeSeconds: 754, transactionHasWritten: true, queryAgeSeconds: 750, blockedCount: 3, blockedDirectly: 1,
        blockedPIDs: [20001, 20002, 20003])
    static let terminate = ApprovalRequest(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(19957)],
                                           action: .destructive, resource: Resource(type: .database, name: "prod-db"), purpose: nil,
                                           via: "slack-button", impact: ToolImpact(rows: 0, pods: 0, sessions: 1, transactionAgeSeconds: 754))

    /// A stored approval row holding `request` (as JSON), as the store hands it back.
    static func record(request: JSONValue) throws -> ApprovalRecord {
        try JSONDecoder().decode(ApprovalRecord.self, from: Data(JSONValue.object([
            "id": .string("apr_1"), "created_at": .number(0), "expires_at": .number(3600), "requester": .string("bob"),
            "request": request, "decision": decisionJSON, "quorum": .number(1), "status": .string("pending"), "votes": .array([]),
        ]).jsonText.utf8))
    }

    /// A row for `request`, with `evidence` stored beside it as the gate stores it.
    static func record(_ request: ApprovalRequest, evidence: ApprovalEvidence? = nil) throws -> ApprovalRecord {
        let encoded = try JSONValue(parsing: String(decoding: JSONEncoder().encode(request), as: UTF8.self))
        return try record(request: evidence.map { $0.stored(in: encoded) } ?? encoded)
    }

    static let decisionJSON = JSONValue.object(["effect": .string("require_approval"), "policy": .string("production"),
                                                "reason": .string("destructive on production"), "quorum": .number(1),
                                                "approvers": .array([.string("role:dba")])])

    // MARK: Lines

    @Test func aTerminationReadsAsWhatItEndsWhoItBlocksAndWhy() {
        let evidence = ApprovalEvidence(request: Self.terminate, origin: ApprovalOrigin(incidentID: Self.incident, finding: Self.finding),
                                        session: Self.blocker)
        #expect(evidence.lines == [
            "Does: ends PostgreSQL session 19957 on prod-db: its transaction is rolled back, its locks are released and its client is disconnected",
            "Found in incident \(Self.incident): \(Self.finding)",
            "Session 19957: user billing, application \"billing-worker\", client 10.0.4.7 — idle in transaction",
            "Transaction open 12m 34s, with writes (rolled back if the session ends)",
            "Statement (started 12m 30s ago): UPDATE accounts SET balance = balance - 1 WHERE id = 1",
            "Blocks 3 sessions (1 directly, the rest queued behind them): PIDs 20001, 20002, 20003",
        ])
    }

    @Test func aSessionThatCouldNotBeReadIsSaidToBeSo() {
        let evidence = ApprovalEvidence(request: Self.terminate, origin: nil, session: nil)
        #expect(evidence.lines.count == 2)
        #expect(evidence.lines.last?.hasPrefix("The session could not be read when this was requested") == true)
        var active = Self.blocker
        active.state = "active"
        active.waitEventType = "Lock"
        active.waitEvent = "transactionid"
        active.blockedCount = 1
        active.blockedDirectly = 1
        active.blockedPIDs = [20001]
        let lines = ApprovalEvidence(request: Self.terminate, origin: ApprovalOrigin(incidentID: Self.incident), session: active).lines
        #expect(lines.contains("From incident \(Self.incident)"))
        #expect(lines.contains("Waiting on Lock: transactionid"), "a busy session's wait is shown; an idle one's is not")
        #expect(lines.contains("Blocks 1 session: PID 20001"))
    }

    @Test func everyBuiltInWriteSaysWhatItDoes() {
        func effect(_ tool: String, _ arguments: [String: JSONValue], action: ActionClass = .write, pods: Int? = nil,
                    namespace: String? = nil) -> String {
            ApprovalEvidence.effect(of: ApprovalRequest(
                tool: tool, target: "apps-k8s", arguments: arguments, action: action,
                resource: Resource(type: .kubernetes, name: "apps-k8s", namespace: namespace), purpose: nil, via: nil,
                impact: ToolImpact(pods: pods)))
        }
        #expect(effect("cancel_query", ["pid": .number(7)]).hasPrefix("cancels the statement PostgreSQL session 7 on apps-k8s is running"))
        #expect(effect("rollout_restart", ["name": .string("api")], pods: 3, namespace: "shop")
            == "restarts the pods of deployment api in namespace shop on apps-k8s, one by one (3 pods)")
        #expect(effect("rollout_undo", ["name": .string("api"), "to_revision": .string("4")], pods: 3, namespace: "shop")
            == "rolls deployment api in namespace shop on apps-k8s back to revision 4, replacing its pods one by one (3 pods)")
        #expect(effect("rollout_undo", ["name": .string("api")]) == "rolls deployment api in apps-k8s back to its previous revision, "
            + "replacing its pods one by one")
        #expect(effect("scale", ["name": .string("api"), "replicas": .number(5)], pods: 2)
            == "sets deployment api in apps-k8s to 5 replicas (2 pods started or stopped)")
        #expect(effect("create_silence", ["matchers": .string(#"{"alertname":"DiskFull"}"#), "duration": .string("1h")])
            == #"silences, for 1h at the Alertmanager of apps-k8s, the alerts whose labels equal {"alertname":"DiskFull"}: "#
                + "they keep firing but notify no one")
        #expect(effect("drop_everything", [:], action: .destructive) == "runs drop_everything, a destructive tool, on apps-k8s")
    }

    // MARK: Stored

    @Test func requestsOpenedBeforeEvidenceHaveNoneAndStillRead() throws {
        let old = try Self.record(request: .object(["tool": .string("terminate_backend"), "target": .string("prod-db"),
                                                     "arguments": .object(["pid": .number(4242)]), "action": .string("destructive")]))
        #expect(old.evidence == nil)
        #expect(old.call?.callText == #"terminate_backend({"pid":4242})"#)
        let odd = try Self.record(request: .object(["tool": .string("t"), "target": .string("x"), "arguments": .object([:]),
                                                     "action": .string("write"), "evidence": .string("not evidence")]))
        #expect(odd.evidence == nil, "unreadable evidence is none, not a crash")
        #expect(odd.call?.tool == "t", "and never hides the call")
        let evidence = ApprovalEvidence(request: Self.terminate, origin: ApprovalOrigin(incidentID: Self.incident), session: Self.blocker)
        let stored = try Self.record(Self.terminate, evidence: evidence)
        #expect(stored.evidence == evidence)
        #expect(stored.request["evidence"]?["incident_id"] == .string(Self.incident))
        #expect(stored.request.value(at: "evidence.session.blocked_pids") == .array([.number(20001), .number(20002), .number(20003)]))
    }

    @Test func theImpactKeepsItsKeysAndReadsOldRowsWithoutASession() throws {
        let impact = ToolImpact(rows: 0, pods: 0, sessions: 1, transactionAgeSeconds: 5, session: SessionEvidence(pid: 1, blockedCount: 2))
        let encoded = try JSONValue(parsing: String(decoding: try JSONEncoder().encode(impact), as: UTF8.self))
        #expect(encoded["transaction_age_seconds"] == .number(5) && encoded.value(at: "session.blocked_count") == .number(2))
        let old = try JSONDecoder().decode(ToolImpact.self, from: Data(#"{"rows":0,"pods":0,"sessions":1,"transaction_age_seconds":5}"#.utf8))
        #expect(old == ToolImpact(rows: 0, pods: 0, sessions: 1, transactionAgeSeconds: 5))
    }

    // MARK: The gate

    /// One destructive session tool whose impact names `session`.
    struct SessionAgent: Agent {
        let name = "database"
        let session: SessionEvidence?
        var tools: [ToolDescriptor] {
            [ToolDescriptor(name: "terminate_backend", agent: "database", action: .destructive, summary: "",
                            parameters: [ToolParameter("pid", .integer, required: true, "pid")])]
        }

        func run(_ call: ToolCall) async throws -> JSONValue { .object(["terminated": .bool(true)]) }

        func impact(of call: ToolCall) async throws -> ToolImpact {
            ToolImpact(rows: 0, pods: 0, sessions: 1, transactionAgeSeconds: session == nil ? nil : 754, session: session)
        }

        func pin(_ call: ToolCall) async throws -> ToolCall { call }
    }

    static func governance(_ store: any Store, session: SessionEvidence?, redactor: Redactor) throws -> Governance {
        var inventory = Infrastructure()
        inventory.dbServers = [.init(id: "prod-db", connectionString: "host=x", tags: ["production"]),
                               .init(id: "other-db", connectionString: "host=y", tags: ["production"])]
        var directory = UserDirectory()
        directory.users = [.init(name: "alice", roles: ["dba"]), .init(name: "bob", roles: ["developer"])]
        let policy = """
            version: "1"
            policies:
              - name: production
                resources: [{type: database}]
                rules:
                  - {action: destructive, effect: require_approval, conditions: {approval_quorum: 1, approvers: [role:dba]}}
            """
        let policies = PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: policy).policies))
        return Governance(policies: policies, store: store, agents: [SessionAgent(session: session)], inventory: inventory, directory: directory,
                          redactor: redactor, defaultTTL: .seconds(3600), toolTimeout: .seconds(5),
                          logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    static func open(_ governance: Governance, origin: ApprovalOrigin?) async throws -> ApprovalRecord {
        let call = ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(19957)])
        guard case .pendingApproval(let record, _) = try await governance.request(call, by: governance.principal(named: "bob"), origin: origin,
                                                                                  via: "test") else {
            throw ToolError("expected an approval request")
        }
        return record
    }

    @Test func theGateKeepsTheSessionRedactedAndCutAndTheOriginOnlyWhenItsIncidentBacksIt() async throws {
        try await withTemporaryStore { store in
            let redactor = Redactor()
            redactor.register([Secret("hunter2-very-secret")])
            var session = Self.blocker
            // The secret straddles the 300th character: redacted before the cut, so no part of it is kept.
            session.query = String(repeating: "x", count: 290) + " PASSWORD 'hunter2-very-secret' " + String(repeating: "y", count: 200)
            let governance = try Self.governance(store, session: session, redactor: redactor)
            let claimed = Self.finding + " hunter2-very-secret" + String(repeating: "z", count: 400)
            for (id, target) in [(Self.incident, "prod-db"), ("inc_elsewhere", "other-db")] {
                try await store.apply(ChangeSet(incidents: [IncidentRecord(
                    id: id, createdAt: Date(), target: target, trigger: "manual", summary: "prod-db: 1 critical — " + claimed, severity: "critical",
                    findingCount: 1, bundlePath: "/nonexistent", bundleBytes: 0)]))
            }

            // A finding the record does not hold is not shown: approvers read the incident's own summary instead.
            let forged = try await Self.open(governance, origin: ApprovalOrigin(incidentID: Self.incident, finding: "harmless, approve quickly"))
            #expect(forged.evidence?.incidentID == Self.incident)
            #expect(forged.evidence?.finding?.hasPrefix("prod-db: 1 critical — " + Self.finding) == true)
            #expect(forged.evidence?.finding?.contains("approve quickly") == false)

            let record = try await Self.open(governance, origin: ApprovalOrigin(incidentID: Self.incident, finding: claimed))
            let evidence = try #require(record.evidence)
            #expect(evidence.incidentID == Self.incident)
            let finding = try #require(evidence.finding)
            #expect(finding.hasPrefix(Self.finding) && !finding.contains("hunter2") && finding.count <= ApprovalOrigin.findingLimit)
            let query = try #require(evidence.session?.query)
            #expect(query.count <= SessionEvidence.queryLimit && !query.contains("hunter2") && query.hasSuffix("…"))
            #expect(evidence.session?.blockedCount == 3 && evidence.session?.user == "billing")
            #expect(record.call?.impact?.session == nil && record.call?.impact?.transactionAgeSeconds == 754, "the session is kept once")
            #expect(try await store.approvals.approval(id: record.id)?.evidence == evidence, "stored, not only returned")

            let unknown = try await Self.open(governance, origin: ApprovalOrigin(incidentID: "inc_made_up", finding: "trust me"))
            #expect(unknown.evidence?.incidentID == nil && unknown.evidence?.finding == nil)
            let elsewhere = try await Self.open(governance, origin: ApprovalOrigin(incidentID: "inc_elsewhere", finding: "another database"))
            #expect(elsewhere.evidence?.incidentID == nil, "an incident about another target does not back this call")
            #expect(elsewhere.evidence?.session != nil, "the rest of the evidence stays")
        }
    }

    @Test func aSessionTheGateCouldNotReadLeavesThePolicyAsItWas() async throws {
        try await withTemporaryStore { store in
            let governance = try Self.governance(store, session: nil, redactor: Redactor())
            let record = try await Self.open(governance, origin: nil)
            #expect(record.evidence?.session == nil)
            #expect(record.evidence?.lines.last?.hasPrefix("The session could not be read") == true)
            #expect(record.call?.impact?.transactionAgeSeconds == nil)
        }
    }

    // MARK: Shown

    @Test func slacksApprovalRequestShowsTheEvidenceEscapedAndWithinBlockKitLimits() async throws {
        let renderer = try await SlackRenderer(directory: SilenceTests.templates)
        let evidence = ApprovalEvidence(request: Self.terminate, origin: ApprovalOrigin(incidentID: Self.incident), session: Self.blocker)
        let plain = try Self.record(Self.terminate, evidence: evidence)
        let message = SlackViews.approvalRequest(renderer, plain, reason: "destructive on production")
        let sections = (message["blocks"]?.arrayValue ?? []).compactMap { $0.value(at: "text.text")?.description }
        let shown = try #require(sections.first { $0.hasPrefix("*Evidence*") })
        #expect(shown.contains("Session 19957: user billing, application \"billing-worker\""))
        #expect(shown.contains("Blocks 3 sessions (1 directly, the rest queued behind them): PIDs 20001, 20002, 20003"))
        #expect(sections.first?.hasPrefix(":lock: *Approval needed*") == true, "the request itself stays the first block")

        // Text from the database and the diagnosis is escaped, and however long, the section stays within 3,000 characters.
        var hostile = Self.blocker
        hostile.application = SlackEscapingTests.hostile
        hostile.query = String(repeating: SlackEscapingTests.hostile, count: 40)
        let long = ApprovalEvidence(tool: "terminate_backend", incidentID: Self.incident, finding: String(repeating: "& <!here> ", count: 500),
                                    effect: "ends it", session: hostile)
        let loud = SlackViews.approvalRequest(renderer, try Self.record(Self.terminate, evidence: long), reason: "r")
        SlackEscapingTests.expectInert(loud, except: ["apr_1"])
        let blocks = try #require(loud["blocks"]?.arrayValue)
        #expect(blocks.count <= SlackRenderer.Limit.blocks)
        for block in blocks {
            #expect((block.value(at: "text.text")?.description.count ?? 0) <= SlackRenderer.Limit.sectionText)
        }
        let evidenceSection = try #require(blocks.compactMap { $0.value(at: "text.text")?.description }.first { $0.hasPrefix("*Evidence*") })
        #expect(evidenceSection.contains("&lt;!here&gt;") && evidenceSection.hasSuffix("…"))

        // A request opened before evidence was kept renders as before.
        let old = try Self.record(Self.terminate)
        #expect(!SlackViews.approvalRequest(renderer, old, reason: "r").jsonText.contains("Evidence"))
    }

    @Test func theApprovalEmailCarriesTheEvidenceInTextAndHTML() throws {
        var directory = UserDirectory()
        directory.users = [.init(name: "alice", roles: ["dba"], email: "alice@example.com"), .init(name: "bob", roles: ["developer"])]
        let templates = try MustacheLibrary(templates: ContentLibrary.builtIn().files(.emailTemplates))
        let notifier = EmailApprovalNotifier(links: ApprovalLinks(key: Secret(String(repeating: "k", count: 32))),
                                             baseURL: URL(string: "https://helpdesk.example")!, from: "helpdesk@example.com",
                                             directory: directory, templates: templates)
        var session = Self.blocker
        session.application = "<script>alert(1)</script>"
        let evidence = ApprovalEvidence(request: Self.terminate, origin: ApprovalOrigin(incidentID: Self.incident, finding: Self.finding),
                                        session: session)
        let record = try Self.record(Self.terminate, evidence: evidence)
        let decision = try JSONDecoder().decode(Decision.self, from: Data(Self.decisionJSON.jsonText.utf8))
        let job = try #require(notifier.opened(record, decision: decision).jobs.first)
        let mail = try JSONDecoder().decode(MailMessage.self, from: Data(job.payload.utf8))
        #expect(mail.to == ["alice@example.com"])
        #expect(mail.text.contains("  - Found in incident \(Self.incident): \(Self.finding)"))
        #expect(mail.text.contains("  - Blocks 3 sessions (1 directly, the rest queued behind them): PIDs 20001, 20002, 20003"))
        #expect(mail.text.contains("  - Statement (started 12m 30s ago): UPDATE accounts SET balance = balance - 1 WHERE id = 1"))
        let html = try #require(mail.html)
        #expect(html.contains("<li style=\"word-break: break-word;\">Does: ends PostgreSQL session 19957 on prod-db"))
        #expect(!html.contains("<script>") && html.contains("&lt;script&gt;"), "text from the database is escaped in HTML")

        let old = try #require(notifier.opened(try Self.record(Self.terminate), decision: decision).jobs.first)
        #expect(!(try JSONDecoder().decode(MailMessage.self, from: Data(old.payload.utf8))).text.contains("What it acts on"))
    }

    // MARK: Origin from a Run button

    @Test func aRunButtonCarriesItsIncidentAndFindingToTheRequest() async throws {
        let renderer = try await SlackRenderer(directory: SilenceTests.templates)
        let diagnosis = try JSONDecoder().decode(Diagnosis.self, from: Data("""
            {"incident_id": "\(Self.incident)", "target": "prod-db", "trigger": "manual", "runbooks": ["postgres-locks"],
             "summary": "prod-db: 1 critical", "tools": [], "started_at": 0, "milliseconds": 5, "problems": [],
             "findings": [{"rule": "idle-transaction-blocking", "tool": "blocking_locks", "severity": "critical",
                           "summary": "PID 19957 blocks 3 sessions", "evidence": {},
                           "recommended_actions": [{"call": {"tool": "terminate_backend", "target": "prod-db", "arguments": {"pid": 19957}},
                                                    "reason": "free the queue", "finding": "PID 19957 blocks 3 sessions"}]}]}
            """.utf8))
        let message = SlackViews.diagnosis(renderer, diagnosis)
        let blocks: [JSONValue] = message["blocks"]?.arrayValue ?? []
        let values: [String] = blocks.compactMap { block in block.value(at: "accessory.value").map { $0.description } }
        let value = try #require(values.first)
        #expect(value.count <= SlackRenderer.Limit.buttonValue)
        let button = try #require(RunActionButton(value: value))
        #expect(button.call == ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(19957)]))
        #expect(button.origin == ApprovalOrigin(incidentID: Self.incident, finding: "PID 19957 blocks 3 sessions"))

        // Buttons posted before they carried an origin still run their call.
        let older = try #require(RunActionButton(value: #"{"tool":"terminate_backend","target":"prod-db","arguments":{"pid":1}}"#))
        #expect(older.origin == nil && older.call.integer("pid") == 1)
        #expect(RunActionButton(value: "not json") == nil)
    }

    @Test func aRunButtonDropsTheFindingThenTheIncidentBeforeItDropsTheButton() throws {
        let call = ToolCall(tool: "terminate_backend", target: "prod-db", arguments: ["pid": .number(19957)])
        let button = RunActionButton(call: call, origin: ApprovalOrigin(incidentID: Self.incident, finding: String(repeating: "f", count: 5000)))
        let full = try #require(button.value())
        #expect(RunActionButton(value: full)?.origin?.finding?.count == RunActionButton.findingLimit, "the finding is cut short")
        let bare = JSONValue.object(["tool": .string(call.tool), "target": .string(call.target), "arguments": .object(call.arguments)]).jsonText
        let withIncident = try #require(button.value(fitting: bare.count + Self.incident.count + 20))
        #expect(RunActionButton(value: withIncident)?.origin == ApprovalOrigin(incidentID: Self.incident))
        #expect(button.value(fitting: bare.count) == bare)
        #expect(button.value(fitting: bare.count - 1) == nil, "a cut value could not be read: no button")
    }
}
