import Foundation
import HelpdeskAgents
import HelpdeskContent
import HelpdeskGovernance
import HelpdeskShippedContent
import HelpdeskTestSupport
import Testing
import Yams

@Suite struct PolicyEngineTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func engine(_ yaml: String) throws -> PolicyEngine {
        PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: yaml).policies)
    }

    static let alice = Principal(id: "alice", roles: ["dba"])
    static let bob = Principal(id: "bob", roles: ["developer"])
    static let prod = Resource(type: .database, name: "prod-db", tags: ["production"])
    static let staging = Resource(type: .database, name: "staging-db", tags: ["staging"])

    /// Tuesday 2026-11-24 at 12:00 UTC, and at 23:00 UTC; Saturday 2026-11-28 at 12:00 UTC.
    static let tuesdayNoon = Date(timeIntervalSince1970: 1_795_521_600)
    static let tuesdayLate = tuesdayNoon.addingTimeInterval(11 * 3600)
    static let saturdayNoon = tuesdayNoon.addingTimeInterval(4 * 86400)

    func request(_ action: ActionClass, _ principal: Principal = alice, _ resource: Resource = prod, tool: String = "terminate_backend",
                 at: Date = tuesdayNoon, purpose: String? = nil, rows: Int? = nil) -> ActionRequest {
        ActionRequest(principal: principal, resource: resource, tool: tool, action: action, rowsAffected: rows, purpose: purpose, at: at)
    }

    @Test func shippedDefaultPolicy() throws {
        let engine = PolicyEngine(policies: try PolicyLoader.load(from: ContentLibrary.builtIn()))
        #expect(engine.decide(request(.read)).effect == .allow)
        let write = engine.decide(request(.write))
        #expect(write.effect == .requireApproval && write.quorum == 1 && write.policy == "production")
        let destructive = engine.decide(request(.destructive))
        #expect(destructive.effect == .requireApproval && destructive.quorum == 2)
        #expect(destructive.approvalTTLSeconds == 3600)
        #expect(engine.decide(request(.destructive, at: Self.tuesdayLate)).effect == .deny)
        #expect(engine.decide(request(.destructive, at: Self.saturdayNoon)).message == "Destructive actions on production are not allowed at weekends.")
        #expect(engine.decide(request(.write, at: Self.saturdayNoon)).effect == .requireApproval, "writes are not frozen at weekends")
        let elsewhere = engine.decide(request(.destructive, Self.alice, Self.staging))
        #expect(elsewhere.effect == .requireApproval && elsewhere.quorum == 1 && elsewhere.policy == "everything-else")
        #expect(engine.decide(request(.read, Self.alice, Resource(type: .host, name: "vm1"))).effect == .allow)
        // A silence is a write on the receiver's Alertmanager: one approval, as writes off production.
        let silence = engine.decide(request(.write, Self.bob, Resource(type: .alertmanager, name: "default"), tool: "create_silence"))
        #expect(silence.effect == .requireApproval && silence.quorum == 1 && silence.policy == "everything-else")
    }

    @Test func priorityDecidesAndEqualPrioritiesKeepFileOrder() throws {
        let engine = try Self.engine("""
            version: "1"
            policies:
              - {name: low, priority: 1, rules: [{action: write, effect: allow}]}
              - {name: first-of-equals, priority: 5, rules: [{action: write, effect: deny}]}
              - {name: second-of-equals, priority: 5, rules: [{action: write, effect: allow}]}
            """)
        #expect(engine.decide(request(.write)).policy == "first-of-equals")
        #expect(engine.decide(request(.read)).effect == .deny, "no rule for read anywhere: default deny")
        #expect(engine.decide(request(.read)).policy == nil)
    }

    @Test func principalsTagsPatternsAndTools() throws {
        let engine = try Self.engine("""
            version: "1"
            policies:
              - name: dba-terminate
                priority: 50
                principals: [{role: dba}]
                resources: [{type: database, match: {name_pattern: "prod-*", tool_pattern: "terminate_*", tags: [production]}}]
                rules: [{action: destructive, effect: allow}]
              - name: bob-staging
                priority: 40
                principals: [{user: bob}]
                resources: [{type: database, match: {tags: [staging]}}]
                rules: [{action: [read, write], effect: allow}]
              - name: disabled
                enabled: false
                priority: 100
                rules: [{action: destructive, effect: allow}]
            """)
        #expect(engine.decide(request(.destructive)).policy == "dba-terminate")
        #expect(engine.decide(request(.destructive, Self.bob)).effect == .deny, "not a dba")
        #expect(engine.decide(request(.destructive, tool: "cancel_query")).effect == .deny, "tool pattern")
        #expect(engine.decide(request(.destructive, Self.alice, Resource(type: .database, name: "prod-db", tags: []))).effect == .deny, "tags")
        #expect(engine.decide(request(.write, Self.bob, Self.staging)).policy == "bob-staging")
        #expect(engine.decide(request(.write, Principal(id: "bob", kind: .service), Self.staging)).effect == .deny, "a service is not the user bob")
    }

    @Test func schedulesAcrossTimeZones() throws {
        let engine = try Self.engine("""
            version: "1"
            policies:
              - name: tokyo-business-hours
                rules:
                  - {action: write, effect: allow, conditions: {schedule: {days: [mon, tue, wed, thu, fri], hours: "09:00-18:00", timezone: Asia/Tokyo}}}
                  - {action: write, effect: deny, message: outside Tokyo hours}
              - name: aihelpdesk-style-hours
                priority: -1
                rules:
                  - {action: read, effect: allow, conditions: {schedule: {hours: [21, 22], timezone: America/New_York}}}
            """)
        // 12:00 UTC is 21:00 in Tokyo (closed) and 07:00 in New York.
        #expect(engine.decide(request(.write)).message == "outside Tokyo hours")
        // 01:00 UTC on Tuesday is 10:00 in Tokyo.
        #expect(engine.decide(request(.write, at: Self.tuesdayNoon.addingTimeInterval(-11 * 3600))).effect == .allow)
        #expect(engine.decide(request(.read)).effect == .deny)
        // 02:30 UTC Wednesday is 21:30 Tuesday in New York (EST, UTC-5).
        #expect(engine.decide(request(.read, at: Self.tuesdayNoon.addingTimeInterval(14.5 * 3600))).effect == .allow)
    }

    @Test func theFirstMatchingPolicyDecidesAndAClosedGrantDoesNotFallThrough() throws {
        let engine = try Self.engine("""
            version: "1"
            policies:
              - name: business-hours-writes
                priority: 100
                resources: [{type: database, match: {tags: [production]}}]
                rules:
                  - {action: write, effect: allow, conditions: {schedule: {days: [mon, tue, wed, thu, fri], hours: "09:00-17:00", timezone: UTC}}}
              - name: freeze
                priority: 90
                rules:
                  - {action: destructive, effect: deny, message: frozen, conditions: {schedule: {days: [sat, sun], timezone: UTC}}}
              - name: broad
                rules: [{action: [read, write, destructive], effect: allow}]
            """)
        #expect(engine.decide(request(.write)).policy == "business-hours-writes", "Tuesday noon: inside the schedule")
        #expect(engine.decide(request(.write)).effect == .allow)
        let late = engine.decide(request(.write, at: Self.tuesdayLate))
        #expect(late.effect == .deny && late.policy == "business-hours-writes", "after hours it does not fall through to broad")
        #expect(late.reason.contains("only while its schedule is active"))
        #expect(engine.decide(request(.read)).policy == "broad", "no rule for read: the next policy decides")
        let frozen = engine.decide(request(.destructive, at: Self.saturdayNoon))
        #expect(frozen.effect == .deny && frozen.message == "frozen")
        #expect(engine.decide(request(.destructive)).policy == "broad", "a freeze outside its window hands over")
    }

    @Test func conditionsOnAllowRules() throws {
        let engine = try Self.engine("""
            version: "1"
            policies:
              - name: guarded
                rules:
                  - action: write
                    effect: allow
                    conditions: {require_approval: true, approval_quorum: 2, approvers: [role:dba, carol], max_rows_affected: 100, allowed_purposes: [remediation]}
            """)
        let ok = engine.decide(request(.write, purpose: "remediation", rows: 10))
        #expect(ok.effect == .requireApproval)
        #expect(ok.quorum == 2)
        #expect(ok.approvers == ["role:dba", "carol"])
        #expect(engine.decide(request(.write, purpose: "remediation", rows: 1000)).reason.hasPrefix("it would affect 1000 rows, over the limit of 100"))
        #expect(engine.decide(request(.write, purpose: nil)).effect == .deny)
    }

    @Test func loaderReportsFileLineAndPath() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("a.yaml", """
            version: "1"
            policies:
              - name: one
                rules:
                  - action: write
                    effect: alow
            """)
        try folder.write("b.yaml", """
            version: "1"
            policies:
              - name: two
                resources:
                  - type: database
                    match: {tagz: [x]}
            """)
        try folder.write("c.yaml", "version: \"1\"\npolicies:\n  - name: three\n    rules:\n      - action: read\n        effect: allow\n        conditions: {schedule: {timezone: Mars/Olympus}}\n")
        do {
            _ = try PolicyLoader.load(folder.path)
            Issue.record("invalid files should not load")
        } catch {
            let lines = error.errors.map(\.description)
            #expect(lines.count == 3)
            #expect(lines[0].hasPrefix(folder.file("a.yaml") + ":6: policies.0.rules.0.effect"))
            #expect(lines[1].hasPrefix(folder.file("b.yaml") + ":6: policies.0.resources.0.match.tagz"))
            #expect(lines[1].contains("unknown key \"tagz\""))
            #expect(lines[2].contains("unknown time zone \"Mars/Olympus\""))
        }
    }
}
