import Foundation
import HelpdeskAgents
import HelpdeskGovernance
import Testing

/// A `principals` entry with several keys matches when any of them does, as aiHelpDesk's engine
/// (matchesPrincipal in internal/policy/engine.go at 92bea68) reads it — under a deny rule too, where
/// reading only the first key would fail open. `any: false` alone matches no one, with a warning.
@Suite struct PrincipalEntryTests {
    static let contractor = Principal(id: "kim", roles: ["contractor"])
    static let mallory = Principal(id: "mallory@corp.example")
    static let dana = Principal(id: "dana", roles: ["sre"])
    static let other = Principal(id: "omar", roles: ["analyst"])
    static let bot = Principal(id: "nightwatch", kind: .service)
    static let orders = Resource(type: .database, name: "orders-db")

    /// `entry` as the principals of a policy deciding `effect` on writes, above one that allows every write.
    static func engine(_ entry: String, effect: Effect) throws -> PolicyEngine {
        PolicyEngine(policies: try loaded(entry, effect: effect).policies)
    }

    static func loaded(_ entry: String, effect: Effect) throws -> PolicyLoader.Loaded {
        try PolicyLoader.parse(yaml: """
            version: "1"
            policies:
              - name: named
                priority: 100
                principals:
                  - \(entry)
                rules: [{action: write, effect: \(effect.rawValue)}]
              - name: everyone
                rules: [{action: write, effect: allow}]
            """, file: "p.yaml", knownTools: nil)
    }

    static func decide(_ engine: PolicyEngine, _ principal: Principal) -> Decision {
        engine.decide(ActionRequest(principal: principal, resource: orders, tool: "cancel_query", action: .write))
    }

    @Test func underADenyRuleEveryKeyOfTheEntryIsDenied() throws {
        let engine = try Self.engine("{user: mallory@corp.example, role: contractor, service: nightwatch}", effect: .deny)
        for principal in [Self.mallory, Self.contractor, Self.bot] {
            let decision = Self.decide(engine, principal)
            #expect(decision.effect == .deny && decision.policy == "named", "\(principal): \(decision.reason)")
        }
        #expect(Self.decide(engine, Self.other).policy == "everyone", "someone the entry does not name is not denied")
    }

    @Test func underAnAllowRuleEveryKeyOfTheEntryIsAllowed() throws {
        // Only the named policy: without it, default deny.
        let policies = try Self.loaded("{user: mallory@corp.example, role: sre}", effect: .allow).policies.filter { $0.name == "named" }
        let engine = PolicyEngine(policies: policies)
        for principal in [Self.mallory, Self.dana] {
            let decision = Self.decide(engine, principal)
            #expect(decision.effect == .allow && decision.policy == "named", "\(principal): \(decision.reason)")
        }
        #expect(Self.decide(engine, Self.other).policy == nil)
    }

    @Test func anyTrueBesideOtherKeysMatchesEveryone() throws {
        let engine = try Self.engine("{any: true, user: mallory@corp.example}", effect: .deny)
        for principal in [Self.mallory, Self.other, Self.bot, .anonymous] {
            #expect(Self.decide(engine, principal).policy == "named", "\(principal)")
        }
    }

    @Test(arguments: ["{any: false}", "{user: \"\", role: \"\"}", "{}"])
    func anEntryNamingNoOneMatchesNoOneWithAWarning(entry: String) throws {
        let loaded = try Self.loaded(entry, effect: .deny)
        #expect(loaded.warnings.map(\.description) == [
            "p.yaml:6: policies.0.principals.0: this entry names no one (no user, role, group or service, and not any: true), "
                + "so it matches no one, as in aiHelpDesk; remove it, or write any: true for everyone"])
        #expect(loaded.policies.first?.principals == [.anyOf([])])
        // The deny applies to no one (as in aiHelpDesk): the next policy decides.
        let engine = PolicyEngine(policies: loaded.policies)
        #expect(Self.decide(engine, Self.mallory).policy == "everyone")
        // Under an allow rule it grants nothing either.
        let allow = PolicyEngine(policies: try Self.loaded(entry, effect: .allow).policies.filter { $0.name == "named" })
        #expect(Self.decide(allow, Self.mallory).policy == nil)
    }

    @Test func oneKeyIsTheSingleMatcherAsBefore() throws {
        let policies = try Self.loaded("{role: sre, any: false}", effect: .deny).policies
        #expect(policies.first?.principals == [.role("sre")])
    }

    @Test func describedAsAnyOfItsKeys() {
        #expect(PrincipalMatcher.anyOf([.user("mallory@corp.example"), .role("sre")]).description == "mallory@corp.example or role sre")
        #expect(PrincipalMatcher.anyOf([]).description == "no one")
    }

    /// `approvers` is this project's key: `{user: carol, role: dba}` could mean carol-as-a-dba as well as
    /// either, so it is refused; separate entries say "any of them".
    @Test func aSeveralKeyApproverEntryIsRefusedAndSeparateEntriesAreEach() throws {
        let text = """
            version: "1"
            policies:
              - name: two-eyes
                rules:
                  - action: write
                    effect: require_approval
                    conditions: {approvers: [{user: carol, role: dba}, "service:release-bot"]}
            """
        let errors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: text, file: "p.yaml") }
        #expect(errors?.errors.first?.description.hasPrefix("p.yaml:7: ") == true, "\(String(describing: errors))")
        #expect(errors?.errors.first?.message.contains("an approvers entry names one user, role or service") == true)
        let policies = try PolicyLoader.parse(yaml: text.replacingOccurrences(of: "{user: carol, role: dba}", with: "{user: carol}, {role: dba}"),
                                              file: "p.yaml")
        let decision = PolicyEngine(policies: policies).decide(
            ActionRequest(principal: Self.dana, resource: Self.orders, tool: "cancel_query", action: .write))
        #expect(decision.approvers == ["carol", "role:dba", "service:release-bot"])
    }

    @Test(arguments: ["*", "any", "role:admin", "service:srebot", "group:ops", "user:x"])
    func aUserValueThatReadsAsAnotherPrincipalIsRefused(value: String) {
        let text = "version: \"1\"\npolicies:\n  - name: x\n    principals: [{user: \"\(value)\"}]\n    rules: [{action: read, effect: allow}]\n"
        let errors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: text, file: "p.yaml") }
        #expect(errors?.errors.first?.message.contains("is not a person's name") == true, "\(String(describing: errors))")
    }

    @Test func anApproverEntryNamingNoOneIsRefused() {
        let text = "version: \"1\"\npolicies:\n  - name: x\n    rules: [{action: write, effect: require_approval, conditions: {approvers: [{any: false}]}}]\n"
        let errors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: text, file: "p.yaml") }
        #expect(errors?.errors.first?.message.contains("an approvers entry names no one") == true, "\(String(describing: errors))")
    }
}
