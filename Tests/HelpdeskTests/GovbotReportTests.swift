import Foundation
import GRDB
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskSecurity
import HelpdeskServer
import HelpdeskShippedContent
import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import Testing
import Yams

@Suite struct GovbotReportTests {
    static let policy = """
        version: "1"
        policies:
          - name: production
            resources: [{type: database, match: {tags: [production]}}]
            rules:
              - {action: read, effect: allow}
              - {action: write, effect: deny}
              - {action: destructive, effect: require_approval, conditions: {approvers: [role:dba]}}
          - name: switched-off
            enabled: false
            rules: [{action: read, effect: deny}]
        """

    static func reporter(_ store: any Store) throws -> GovbotReporter {
        let policies = PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: policy).policies))
        var directory = UserDirectory()
        directory.users = [.init(name: "alice", roles: ["dba"]), .init(name: "carol", roles: ["dba"]), .init(name: "bob", roles: ["developer"]),
                           .init(name: "erin", roles: ["developer"])]
        return GovbotReporter(store: store, policies: policies, directory: directory)
    }

    /// A `policy_decision` event as the gate writes it (`policy` `nil`: the default deny).
    static func decision(_ principal: String, _ effect: String, policy: String?, rule: Int?, kind: String = "policy_decision") -> AuditDraft {
        var decision: [String: JSONValue] = ["effect": .string(effect), "reason": .string("test"), "quorum": .number(0), "approvers": .array([])]
        if let policy { decision["policy"] = .string(policy) }
        if let rule { decision["rule"] = .number(Double(rule)) }
        return AuditDraft(kind: kind, principal: principal, target: "prod-db", data: .object([
            "call": call("connection_stats", action: "read"), "via": .string("test"), "decision": .object(decision),
        ]))
    }

    static func call(_ tool: String, action: String) -> JSONValue {
        .object(["tool": .string(tool), "target": .string("prod-db"), "action": .string(action), "arguments": .object([:])])
    }

    static func toolCall(_ principal: String, _ tool: String, action: String, outcome: String, approval: String? = nil) -> AuditDraft {
        var data: [String: JSONValue] = ["call": call(tool, action: action), "outcome": .string(outcome), "milliseconds": .number(3)]
        if let approval { data["approval"] = .string(approval) }
        return AuditDraft(kind: "tool_call", principal: principal, target: "prod-db", data: .object(data))
    }

    static func approval(_ store: any Store, _ id: String, at base: Date, expiresIn seconds: Double) async throws {
        _ = try await store.approvals.create(
            NewApproval(id: id, requester: "bob", request: .object([:]), decision: .object([:]), quorum: 1, createdAt: base,
                        expiresAt: base.addingTimeInterval(seconds)),
            audit: [AuditDraft(kind: "approval_created", principal: "bob", target: id, data: .object(["quorum": .number(1)]))])
    }

    static func vote(_ store: any Store, _ id: String, _ principal: String, _ choice: ApprovalVote.Choice, at: Date) async throws {
        _ = try await store.approvals.vote(id: id, principal: principal, choice: choice, reason: nil, via: "test", now: at,
                                           execute: NewJob(kind: "approval.execute", payload: "{}", dedupKey: "execute:\(id)"))
    }

    @Test func reportsASeededWindowFieldByField() async throws {
        try await withTemporaryStore { store in
            let base = Date()
            try await store.apply(ChangeSet(audit: [
                Self.decision("bob", "allow", policy: "production", rule: 0),
                Self.decision("bob", "require_approval", policy: "production", rule: 2),
                Self.decision("anonymous:slack:U999", "deny", policy: nil, rule: nil),
                // A diagnosis's read: decided inside the gate, written as its tool call alone.
                Self.decision("service:srebot", "allow", policy: "production", rule: 0, kind: "tool_call"),
                Self.toolCall("bob", "cancel_query", action: "write", outcome: "denied"),
                AuditDraft(kind: "security_detection", principal: "secbot", target: "high_volume:bob", data: .object([
                    "kind": .string("high_volume"), "subject": .string("bob"), "summary": .string("150 events in a minute"),
                    "event_seqs": .array([.number(1)]), "incident": .string("inc_1"), "dry_run": .bool(false),
                ])),
            ]))
            for (id, expiry) in [("apr_1", 3600.0), ("apr_2", 3600), ("apr_3", 36000), ("apr_4", 60)] {
                try await Self.approval(store, id, at: base, expiresIn: expiry)
            }
            try await Self.vote(store, "apr_1", "alice", .approve, at: base.addingTimeInterval(10))
            try await Self.vote(store, "apr_2", "carol", .deny, at: base.addingTimeInterval(30))
            _ = try await store.approvals.expire(now: base.addingTimeInterval(7200))
            try await store.apply(ChangeSet(audit: [
                Self.toolCall("bob", "terminate_backend", action: "destructive", outcome: "ok", approval: "apr_1"),
                Self.toolCall("bob", "terminate_backend", action: "destructive", outcome: "ok"),
            ]))

            let report = try await Self.reporter(store).report(from: base.addingTimeInterval(-3600), to: base.addingTimeInterval(3 * 3600))

            #expect(report.decisions.total == 4)
            #expect(report.decisions.byEffect == ["allow": 2, "deny": 1, "require_approval": 1])
            let top = report.decisions.byRule.first
            #expect(top?.policy == "production" && top?.rule == 1 && top?.count == 2 && top?.byEffect == ["allow": 2])
            #expect(report.decisions.byRule.contains { $0.policy == nil && $0.rule == nil && $0.byEffect == ["deny": 1] })

            let approvals = report.approvals
            let counts: [Int] = [approvals.created, approvals.approved, approvals.denied, approvals.expired, approvals.pending]
            #expect(counts == [4, 1, 1, 1, 1])
            #expect(approvals.medianSecondsToDecide.map { abs($0 - 20) < 0.01 } == true)
            #expect(approvals.p95SecondsToDecide.map { abs($0 - 30) < 0.01 } == true)
            #expect(approvals.byApprover.map(\.principal).sorted() == ["alice", "carol"])
            #expect(approvals.byApprover.first { $0.principal == "carol" }.map { [$0.approve, $0.deny] } == [0, 1])

            #expect(report.actions.map(\.outcome) == ["denied", "ok", "ok"])
            let approved = report.actions.first { $0.approval == "apr_1" }
            #expect(approved?.tool == "terminate_backend" && approved?.approvedBy == ["alice"] && approved?.principal == "bob")

            #expect(report.rules.dead.map { "\($0.policy) \($0.rule)" } == ["production 2"], "the disabled policy's rules are not listed")
            #expect(report.rules.dead.first?.summary == "write → deny")
            #expect(report.rules.matchedEverything.isEmpty, "four decisions are too few to say")

            #expect(report.people.idle == ["erin"])
            #expect(report.people.unmapped.map(\.principal) == ["anonymous:slack:U999"])

            #expect(report.chain.ok && report.chain.checked == report.window.events && report.chain.problem == nil)
            #expect(report.detections.map { [$0.kind, $0.subject, $0.summary, $0.incident ?? "-", "\($0.dryRun)"] }
                == [["high_volume", "bob", "150 events in a minute", "inc_1", "false"]])

            #expect(Set(report.findings.map(\.kind)) == [.detection, .unapprovedDestructive, .unmappedActor, .approvalsExpired])
            #expect(report.findings.filter { $0.kind == .unapprovedDestructive }.count == 1)
            #expect(Set(report.notes.map(\.kind)) == [.deadRule, .idleUser], "dead rules and idle users are notes, not findings")
            #expect(report.exitCode == 1 && report.outcome == "findings")
        }
    }

    @Test func aTamperedChainIsAFindingAndACleanWindowExitsZero() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        var store = try SQLiteStore(options: .init(path: path))
        try await store.apply(ChangeSet(audit: [Self.decision("alice", "allow", policy: "production", rule: 0),
                                                Self.decision("bob", "allow", policy: "production", rule: 0)]))
        let window = (from: Date().addingTimeInterval(-60), to: Date().addingTimeInterval(60))
        let clean = try await Self.reporter(store).report(from: window.from, to: window.to)
        #expect(clean.chain.ok && clean.findings.isEmpty && clean.exitCode == 0 && clean.outcome == "clean")
        try await store.close()

        try await DatabaseQueue(path: path).write { db in try db.execute(sql: "UPDATE audit_events SET target = 'other-db' WHERE seq = 1") }
        store = try SQLiteStore(options: .init(path: path))
        let broken = try await Self.reporter(store).report(from: window.from, to: window.to)
        try await store.close()
        #expect(!broken.chain.ok && broken.chain.brokenAt == 1 && broken.chain.problem != nil)
        #expect(broken.findings.map(\.kind) == [.chainBroken])
        #expect(broken.exitCode == 1)
    }

    @Test func aRuleMatchesEverythingOnlyOverTwentyDecisions() async throws {
        try await withTemporaryStore { store in
            let start = Date().addingTimeInterval(-60)
            try await store.apply(ChangeSet(audit: (0..<19).map { _ in Self.decision("alice", "allow", policy: "production", rule: 0) }))
            let few = try await Self.reporter(store).report(from: start, to: Date().addingTimeInterval(60))
            #expect(few.rules.matchedEverything.isEmpty)
            try await store.apply(ChangeSet(audit: [Self.decision("alice", "allow", policy: "production", rule: 0)]))
            let enough = try await Self.reporter(store).report(from: start, to: Date().addingTimeInterval(60))
            #expect(enough.rules.matchedEverything.map { "\($0.policy) \($0.rule)" } == ["production 1"])
            #expect(enough.findings.map(\.kind) == [.ruleMatchesEverything])
        }
    }

    @Test func readsEveryEventOfAWindowLongerThanAPage() async throws {
        try await withTemporaryStore { store in
            // One change set: 2,500 events at the same instant, more than two pages.
            try await store.apply(ChangeSet(audit: (0..<2500).map { _ in Self.decision("alice", "allow", policy: "production", rule: 0) }))
            try await store.apply(ChangeSet(audit: [Self.decision("bob", "allow", policy: "production", rule: 0)]))
            let report = try await Self.reporter(store).report(from: Date().addingTimeInterval(-60), to: Date().addingTimeInterval(60))
            #expect(report.window.events == 2501 && report.decisions.total == 2501)
        }
    }

    @Test func blockKitStaysUnderFiftyBlocksEscapedAndCountsWhatItLeavesOut() async throws {
        try await withTemporaryStore { store in
            try await store.apply(ChangeSet(audit: (0..<60).map { index in
                Self.toolCall("<!channel> \(index)", "terminate_backend", action: "destructive", outcome: "ok")
            }))
            let report = try await Self.reporter(store).report(from: Date().addingTimeInterval(-60), to: Date().addingTimeInterval(60))
            #expect(report.findings.count > 100)
            let renderer = try SlackRenderer(templates: ContentLibrary.builtIn().files(.slackTemplates))
            let message = GovbotSlackView.message(report, renderer: renderer)
            guard case .array(let blocks)? = message["blocks"] else {
                Issue.record("the template did not render JSON: \(message)")
                return
            }
            #expect(blocks.count <= 50 && blocks.count >= 10)
            let text = message.jsonText
            #expect(text.contains("and \(report.findings.count - GovbotSlackView.shown) more"))
            #expect(!text.contains("<!channel>") && text.contains("&lt;!channel&gt;"))
            // Parses again as JSON, as Slack will read it.
            #expect((try? JSONValue(parsing: text)) == message)
        }
    }

    @Test func jsonHasStableSnakeCaseKeysAndTextAlignsColumns() async throws {
        try await withTemporaryStore { store in
            try await store.apply(ChangeSet(audit: [Self.decision("alice", "allow", policy: "production", rule: 0)]))
            let report = try await Self.reporter(store).report(from: Date().addingTimeInterval(-60), to: Date().addingTimeInterval(60))
            let json = String(decoding: try GovbotReport.encoder.encode(report), as: UTF8.self)
            // Optional values (a median with nothing decided, where a sound chain broke) are left out, not null.
            for key in ["\"generated_at\"", "\"by_effect\"", "\"by_approver\"", "\"matched_everything\"", "\"unmapped\""] {
                #expect(json.contains(key), "\(key)")
            }
            let decoded = try GovbotReport.decoder.decode(GovbotReport.self, from: Data(json.utf8))
            #expect(decoded.decisions == report.decisions && decoded.version == GovbotReport.currentVersion)
            let text = GovbotText.render(report)
            #expect(text.contains("status: clean") && text.contains("Audit chain: ok"))
            #expect(GovbotText.table([["a", "1"], ["long", "22"]], rightAligned: [1]) == ["  a      1", "  long  22"])
        }
    }
}
