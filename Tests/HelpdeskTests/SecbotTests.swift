import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskSecurity
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing
import Yams

/// secbot over a store, fed events through the store's own API (so the chain stays intact and only the
/// rule under test explains what it reports).
struct SecbotHarness {
    static let channel = "C0SECURITY"
    let folder: TemporaryDirectory
    let location: TemporaryStoreLocation
    let store: any Store
    var settings = SecbotSettings()
    var directory = UserDirectory()

    init(_ kind: StoreKind = .sqlite) async throws {
        let folder = try TemporaryDirectory()
        let location = try await TemporaryStoreLocation.fresh(kind, in: folder)
        let store = try await location.open()
        self.init(store: store, location: location, folder: folder)
    }

    init(store: any Store, location: TemporaryStoreLocation, folder: TemporaryDirectory) {
        self.store = store
        self.location = location
        self.folder = folder
        settings.enabled = true
        directory.users = [.init(name: "alice", roles: ["dba"]), .init(name: "carol", roles: ["dba"]), .init(name: "bob", roles: ["developer"])]
    }

    func close() async {
        try? await store.close()
        folder.remove()
    }

    /// Runs `body` with a fresh harness on a store of `kind`, then closes and removes it.
    static func with(_ kind: StoreKind = .sqlite, _ body: (SecbotHarness) async throws -> Void) async throws {
        let harness = try await SecbotHarness(kind)
        do {
            try await body(harness)
        } catch {
            await harness.close()
            throw error
        }
        await harness.close()
    }

    /// A follower from the committed mark: what a (re)started secbot is.
    func follower(dryRun: Bool = false, preview: Bool = false) async throws -> SecbotFollower {
        var settings = settings
        settings.dryRun = dryRun || preview
        return try await SecbotFollower.start(store: store, directory: directory,
                                              options: SecbotOptions(settings: settings, channel: Self.channel, bundleDirectory: nil,
                                                                     preview: preview),
                                              redactor: Redactor(), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                                              render: { view in .object(["text": .string("\(view.kind) \(view.subject)")]) })
    }

    /// A fresh follower run to the end of the log: the detections it reported, in order.
    func detections(dryRun: Bool = false, preview: Bool = false) async throws -> [Detection] {
        var follower = try await self.follower(dryRun: dryRun, preview: preview)
        var found: [Detection] = []
        while true {
            let pass = try await follower.pass()
            found += pass.detections
            if pass.caughtUp { return found }
        }
    }

    func append(_ drafts: AuditDraft...) async throws {
        try await store.apply(ChangeSet(audit: drafts))
    }

    /// The `security_detection` events written, newest first.
    func reported() async throws -> [AuditEvent] {
        try await store.audit.latest(AuditFilter(kind: "security_detection"), limit: 100)
    }

    static func call(_ tool: String, _ target: String, _ action: ActionClass, _ arguments: [String: JSONValue]) -> JSONValue {
        .object(["tool": .string(tool), "target": .string(target), "action": .string(action.rawValue), "arguments": .object(arguments)])
    }

    /// A `tool_call` event as `Governance.run` writes it.
    static func toolCall(by principal: String, _ tool: String, on target: String, _ action: ActionClass, approval: String? = nil,
                         arguments: [String: JSONValue] = [:], error: String? = nil) -> AuditDraft {
        var data: [String: JSONValue] = ["call": call(tool, target, action, arguments), "outcome": .string(error == nil ? "ok" : "error"),
                                         "milliseconds": .number(3)]
        if let approval { data["approval"] = .string(approval) }
        if let error { data["error"] = .string(error) }
        return AuditDraft(kind: "tool_call", principal: principal, target: target, data: .object(data))
    }

    /// A `policy_decision` event as `Governance.decideAndAct` writes it.
    static func decision(by principal: String, _ tool: String, on target: String, _ action: ActionClass, _ effect: Effect,
                         arguments: [String: JSONValue] = [:]) -> AuditDraft {
        AuditDraft(kind: "policy_decision", principal: principal, target: target, data: .object([
            "call": call(tool, target, action, arguments), "via": .string("test"),
            "decision": .object(["effect": .string(effect.rawValue), "reason": .string("test"), "quorum": .number(0), "approvers": .array([])]),
        ]))
    }
}

@Suite struct SecbotTests {
    @Test func anApprovalLessWriteIsUnauthorizedAndNothingElse() async throws {
        try await SecbotHarness.with { harness in
            try await harness.append(SecbotHarness.toolCall(by: "mallory", "terminate_backend", on: "prod-db", .destructive,
                                                            arguments: ["pid": .number(4242)]))
            #expect(try await harness.store.audit.verify().ok, "appended through the store: the chain is intact")

            let found = try await harness.detections()
            #expect(found.map(\.kind) == [.unauthorizedDestructive])
            #expect(found.first?.subject == "mallory")
            let event = try #require(try await harness.reported().first)
            #expect(event.principal == "secbot" && event.target == "unauthorized_destructive:mallory")
            let data = try JSONValue(parsing: event.data)
            let incident = try #require(data["incident"]?.description)
            #expect(data["event_seqs"] == .array([.number(1)]) && data["dry_run"] == .bool(false))
            #expect(try await harness.store.incidents.incident(id: incident)?.trigger == "secbot: unauthorized_destructive")
            #expect(try await harness.store.incidents.bundle(id: incident) != nil, "the bundle holds the offending events")
            #expect(try await harness.store.slackOutbox.entries(channel: SecbotHarness.channel).count == 1)
            #expect(try await harness.store.progress.position(SecbotFollower.positionMark) == 1)
            // Its own event is read next and is no detection.
            #expect(try await harness.detections().isEmpty)
        }
    }

    @Test func aTamperedEventIsOneHashMismatch() async throws {
        try await SecbotHarness.with { harness in
            for index in 1...3 {
                try await harness.append(AuditDraft(kind: "request_received", principal: "bob", data: .object(["n": .number(Double(index))])))
            }
            // An attacker with write access to the file edits an event without its key.
            try await harness.location.execute(#"UPDATE audit_events SET data = '{"n":99}' WHERE seq = 2"#)
            let found = try await harness.detections()
            #expect(found.map(\.kind) == [.hashMismatch], "one break, one detection (the walk and the full verify agree)")
            #expect(found.first?.subject == "chain" && found.first?.events.map(\.seq) == [2])
            #expect(found.first?.summary.contains("edited") == true)
        }
    }

    @Test func aBurstByOnePrincipalIsHighVolumeButAnAlertStormIsNot() async throws {
        try await SecbotHarness.with { fresh in
            var harness = fresh
            harness.settings.highVolumePerMinute = 5
            for _ in 0..<6 { try await harness.append(AuditDraft(kind: "request_received", principal: "runaway-model")) }
            for _ in 0..<10 { try await harness.append(AuditDraft(kind: "alert_received", principal: "alertmanager")) }
            let found = try await harness.detections()
            #expect(found.map(\.target) == ["high_volume:runaway-model"])
            #expect(found.first?.events.count == 5)
        }
    }

    @Test func injectionLookingInputsAreReportedAndPlainNamesAreNot() async throws {
        try await SecbotHarness.with { harness in
            try await harness.append(
                SecbotHarness.decision(by: "eve", "get_pods", on: "orders-db' OR '1'='1", .read, .deny, arguments: ["namespace": .string("default; rm -rf /")]),
                SecbotHarness.toolCall(by: "frank", "connection_stats", on: "orders-db", .read, error: #"syntax error at or near "'; DROP TABLE users""#),
                SecbotHarness.decision(by: "gina", "scale", on: "pg-main", .write, .allow,
                                       arguments: ["namespace": .string("checkout"), "deployment": .string("checkout-worker"),
                                                   "pod": .string("checkout-worker-7d9f8-x2x"), "selector": .string("app=orders,tier!=web"),
                                                   "replicas": .number(3)]),
                SecbotHarness.toolCall(by: "gina", "scale", on: "pg-main", .write, arguments: ["deployment": .string("checkout-worker"),
                                                                                               "replicas": .number(3)]))
            let found = try await harness.detections()
            #expect(Set(found.map(\.target)) == ["potential_sql_injection:eve", "potential_command_injection:eve", "potential_sql_injection:frank"])
            #expect(!found.contains { $0.summary.contains("rm -rf") || $0.summary.contains("DROP TABLE users") || $0.summary.contains("'1'='1") },
                    "summaries never echo the input")
        }
    }

    @Test func repeatedDenialsForOnePrincipal() async throws {
        try await SecbotHarness.with { fresh in
            var harness = fresh
            harness.settings.denials = 3
            for _ in 0..<3 { try await harness.append(SecbotHarness.decision(by: "bob", "connection_stats", on: "prod-db", .read, .deny)) }
            for _ in 0..<2 { try await harness.append(SecbotHarness.decision(by: "carol", "connection_stats", on: "prod-db", .read, .deny)) }
            #expect(try await harness.detections().map(\.target) == ["repeated_denials:bob"])
        }
    }

    @Test func aVoteFromOutsideTheApproversAndAnApprovalFasterThanReading() async throws {
        try await SecbotHarness.with { fresh in
            // Wide, so that seconds lost between request and vote on a loaded machine (a full CI run once missed
            // the detection with the default ten) still count as fast; apr_old is older than it.
            var harness = fresh
            harness.settings.fastApproval = .seconds(600)
            let decision: JSONValue = .object(["effect": .string("require_approval"), "reason": .string("r"), "quorum": .number(2),
                                               "approvers": .array([.string("role:dba")])])
            for (id, age) in [("apr_old", 1_200.0), ("apr_new", 0.0)] {
                _ = try await harness.store.approvals.create(
                    NewApproval(id: id, requester: "bob", request: .object([:]), decision: decision, quorum: 2,
                                createdAt: Date().addingTimeInterval(-age), expiresAt: Date().addingTimeInterval(3600)),
                    audit: [AuditDraft(kind: "approval_created", principal: "bob", target: id)])
            }
            // Written around the gate (which refuses her): mallory is no dba. alice is, but approves at once.
            let job = NewJob(kind: Governance.executeJobKind, payload: "{}")
            _ = try await harness.store.approvals.vote(id: "apr_old", principal: "mallory", choice: .approve, reason: nil, via: "api", now: Date(),
                                                       execute: job)
            _ = try await harness.store.approvals.vote(id: "apr_new", principal: "alice", choice: .approve, reason: nil, via: "api", now: Date(),
                                                       execute: job)
            #expect(try await harness.detections().map(\.target) == ["outsider_vote:mallory", "fast_approval:alice"])
        }
    }

    @Test func aReloadThatWidensAccessIsReported() async throws {
        try await SecbotHarness.with { harness in
            func engine(_ effect: String) throws -> PolicyEngine {
                PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: """
                    version: "1"
                    policies:
                      - name: production
                        resources: [{type: database, match: {tags: [production]}}]
                        rules: [{action: destructive, effect: \(effect)}]
                    """).policies)
            }
            let probes = PolicyProbes(calls: [.init(tool: "terminate_backend", action: .destructive,
                                                    resource: Resource(type: .database, name: "prod-db", tags: ["production"]), target: "prod-db")])
            let recorder = PolicyReloadRecorder(store: harness.store, probes: probes, origin: "/etc/helpdesk/policies")
            let narrowing = recorder.event(from: try engine("allow"), to: try engine("deny"))
            #expect(narrowing.data["widened"] == .array([]))
            let widening = recorder.event(from: try engine("deny"), to: try engine("allow"))
            #expect(widening.kind == "policy_reloaded" && widening.target == "/etc/helpdesk/policies")
            #expect(widening.data["widened"]?.arrayValue?.contains(.object(["probe": .string("anonymous terminate_backend prod-db"),
                                                                              "before": .string("deny"), "after": .string("allow")])) == true)
            try await harness.store.apply(ChangeSet(audit: [narrowing, widening]))
            #expect(try await harness.detections().map(\.target) == ["policy_widened:policies"])
        }
    }

    @Test func cleanTrafficThroughTheGateGivesNoDetection() async throws {
        let governed = try await GovernanceTests.Harness(.sqlite)
        var harness = SecbotHarness(store: governed.store, location: governed.location, folder: governed.folder)
        harness.directory.users += [.init(name: "dave", roles: ["dba"])]
        harness.settings.fastApproval = .zero  // the test votes at once
        let gate = governed.governance
        _ = try await gate.request(ToolCall(tool: "connection_stats", target: "prod-db"), by: gate.principal(named: "bob"), via: "test")
        let record = try await governed.requestTermination(by: "bob")
        _ = try await gate.vote(on: record.id, by: gate.principal(named: "alice"), approve: true, reason: nil, via: "test")
        _ = try await gate.vote(on: record.id, by: gate.principal(named: "carol"), approve: true, reason: nil, via: "test")
        _ = try await gate.executeApproved(record.id)
        // A write allowed by policy, with its decision before it.
        try await harness.append(SecbotHarness.decision(by: "alice", "cancel_query", on: "prod-db", .write, .allow),
                                 SecbotHarness.toolCall(by: "alice", "cancel_query", on: "prod-db", .write))
        let calls = try await harness.store.audit.latest(AuditFilter(kind: "tool_call"), limit: 10)
        #expect(calls.contains { $0.data.contains(record.id) }, "the approved call ran under its approval")
        #expect(try await harness.detections().isEmpty)
        await harness.close()
    }
}
