import Foundation
import HelpdeskAgents
import HelpdeskGovernance
import HelpdeskServer
import Testing

/// Tests/Fixtures/aihelpdesk/policies.yaml — our own file in aiHelpDesk's policy format — loads as it
/// is, and decisions on it come out as aiHelpDesk's engine (internal/policy/engine.go at 92bea68)
/// decides them: by priority, first policy whose principals and resources match and that has an
/// active rule for the action; a failed purpose or limit denies; nothing matching denies.
@Suite struct AiHelpDeskPolicyFixtureTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/aihelpdesk/policies.yaml").path

    static func engine() throws -> PolicyEngine {
        PolicyEngine(policies: try PolicyLoader.loadFile(path))
    }

    /// Tuesday 2026-11-24 12:00 UTC; Saturday 2026-11-28 02:00 in Berlin (01:00 UTC).
    static let tuesdayNoon = Date(timeIntervalSince1970: 1_795_521_600)
    static let saturdayNightInBerlin = tuesdayNoon.addingTimeInterval(3 * 86400 + 13 * 3600)

    static let ledger = Resource(type: .database, name: "ledger-db", tags: ["ledger"])
    static let orders = Resource(type: .database, name: "orders-db", tags: ["production"])
    static let customers = Resource(type: .database, name: "customers-db", sensitivity: ["pii"])
    static let sandbox = Resource(type: .database, name: "sandbox-7")
    static let kubeSystem = Resource(type: .kubernetes, name: "apps-k8s", namespace: "kube-system")
    static let staging = Resource(type: .kubernetes, name: "staging-k8s", tags: ["staging"])

    static let lena = Principal(id: "lena@corp.example")
    static let raj = Principal(id: "raj", roles: ["responder"])
    static let ana = Principal(id: "ana", roles: ["analyst"])
    static let dora = Principal(id: "dora", roles: ["dbadmin"])
    static let nightwatch = Principal(id: "nightwatch", kind: .service)
    static let rolloutBot = Principal(id: "rollout-bot", kind: .service)

    struct Case: Sendable, CustomTestStringConvertible {
        var what: String
        var request: ActionRequest
        var effect: Effect
        /// `nil`: no policy matched (aiHelpDesk names it "default").
        var policy: String?
        var quorum = 0

        var testDescription: String { what }
    }

    static func call(_ principal: Principal, _ action: ActionClass, _ resource: Resource, tool: String, rows: Int? = 0, pods: Int? = 0,
                     age: Int? = 0, purpose: String? = nil, at: Date = tuesdayNoon) -> ActionRequest {
        ActionRequest(principal: principal, resource: resource, tool: tool, action: action, rowsAffected: rows, podsAffected: pods,
                      transactionAgeSeconds: age, purpose: purpose, at: at)
    }

    static let cases: [Case] = [
        Case(what: "a ledger read is open", request: call(lena, .read, ledger, tool: "idle_in_transaction"), effect: .allow, policy: "ledger-guard"),
        Case(what: "a ledger write needs two approvals", request: call(lena, .write, ledger, tool: "cancel_query"),
             effect: .requireApproval, policy: "ledger-guard", quorum: 2),
        Case(what: "the freeze denies it on a weekend night in Berlin", request: call(lena, .write, ledger, tool: "cancel_query", at: saturdayNightInBerlin),
             effect: .deny, policy: "quarter-close-freeze"),
        Case(what: "ending a short ledger writer needs one approval", request: call(lena, .destructive, ledger, tool: "terminate_backend", age: 120),
             effect: .requireApproval, policy: "ledger-guard", quorum: 1),
        Case(what: "ending a ledger writer open 20 minutes is denied (max_xact_age_secs 600)",
             request: call(lena, .destructive, ledger, tool: "terminate_backend", age: 1200), effect: .deny, policy: "ledger-guard"),
        Case(what: "bots do not end sessions (tool_pattern)", request: call(nightwatch, .destructive, orders, tool: "terminate_backend"),
             effect: .deny, policy: "no-session-kills-for-bots"),
        Case(what: "the monitoring bot's cancel needs an approval", request: call(nightwatch, .write, orders, tool: "cancel_query"),
             effect: .requireApproval, policy: "nightwatch", quorum: 1),
        Case(what: "the monitoring bot over its row limit", request: call(nightwatch, .write, orders, tool: "cancel_query", rows: 51),
             effect: .deny, policy: "nightwatch"),
        Case(what: "a responder without an emergency is denied, not handed over", request: call(raj, .read, orders, tool: "server_info", purpose: "diagnostic"),
             effect: .deny, policy: "responder-break-glass"),
        Case(what: "a responder in an emergency acts", request: call(raj, .destructive, orders, tool: "terminate_backend", purpose: "emergency"),
             effect: .allow, policy: "responder-break-glass"),
        Case(what: "personal data needs a declared purpose", request: call(ana, .read, customers, tool: "top_queries"),
             effect: .deny, policy: "personal-data"),
        Case(what: "personal data needs a purpose it allows", request: call(ana, .read, customers, tool: "top_queries", purpose: "marketing"),
             effect: .deny, policy: "personal-data"),
        Case(what: "personal data with an allowed purpose", request: call(ana, .read, customers, tool: "top_queries", purpose: "audit"),
             effect: .allow, policy: "personal-data"),
        Case(what: "a write to personal data needs approval and a purpose", request: call(ana, .write, customers, tool: "cancel_query", purpose: "remediation"),
             effect: .requireApproval, policy: "personal-data", quorum: 1),
        Case(what: "cluster internals are read-only (namespace)", request: call(dora, .write, kubeSystem, tool: "rollout_restart", pods: 2),
             effect: .deny, policy: "cluster-internals"),
        Case(what: "the rollout bot within its pod limit", request: call(rolloutBot, .write, staging, tool: "scale", pods: 3, purpose: "rollout"),
             effect: .allow, policy: "rollout-bot"),
        Case(what: "the rollout bot over its pod limit", request: call(rolloutBot, .write, staging, tool: "scale", pods: 6, purpose: "rollout"),
             effect: .deny, policy: "rollout-bot"),
        Case(what: "aiHelpDesk's terminate_connection is terminate_backend (an analyst)",
             request: call(ana, .destructive, orders, tool: "terminate_backend"), effect: .deny, policy: "analysts-keep-sessions"),
        Case(what: "the entry's second key (the rollout bot) is denied too", request: call(rolloutBot, .destructive, orders, tool: "terminate_backend"),
             effect: .deny, policy: "analysts-keep-sessions"),
        Case(what: "an analyst's cancel is not that tool", request: call(ana, .write, orders, tool: "cancel_query", purpose: "remediation"),
             effect: .allow, policy: "diagnostic-is-read-only"),
        Case(what: "a dbadmin ends a session with one approval", request: call(dora, .destructive, orders, tool: "terminate_backend"),
             effect: .requireApproval, policy: "dbadmin-team", quorum: 1),
        Case(what: "a user named by id", request: call(lena, .destructive, orders, tool: "terminate_backend"),
             effect: .requireApproval, policy: "dbadmin-team", quorum: 1),
        Case(what: "sandboxes by name pattern, require_approval: false", request: call(ana, .destructive, sandbox, tool: "terminate_backend"),
             effect: .allow, policy: "sandboxes"),
        Case(what: "a diagnostic purpose changes nothing", request: call(ana, .write, orders, tool: "cancel_query", purpose: "diagnostic"),
             effect: .deny, policy: "diagnostic-is-read-only"),
        Case(what: "remediation may", request: call(ana, .write, orders, tool: "cancel_query", purpose: "remediation"),
             effect: .allow, policy: "diagnostic-is-read-only"),
        Case(what: "the disabled policy grants nothing: default deny", request: call(.anonymous, .read, orders, tool: "server_info"),
             effect: .deny, policy: nil),
    ]

    @Test func theFixtureLoadsAsItIs() throws {
        let loaded = try PolicyLoader.loadFile(Self.path, knownTools: BuiltInTools.names)
        #expect(loaded.warnings.isEmpty, "aiHelpDesk's tool names load without a warning: \(loaded.warnings)")
        let policies = loaded.policies
        #expect(policies.count == 14)
        #expect(policies.first { $0.name == "analysts-keep-sessions" }?.resources.first?.tool == "terminate_backend")
        #expect(policies.first { $0.name == "open-day" }?.enabled == false)
        #expect(policies.first { $0.name == "ledger-guard" }?.rules.last?.conditions.maxTransactionAgeSeconds == 600)
        #expect(policies.first { $0.name == "ledger-guard" }?.description.hasPrefix("Ledger databases hold money movements.") == true)
    }

    @Test(arguments: AiHelpDeskPolicyFixtureTests.cases)
    func decidesAsAiHelpDesk(example: Case) throws {
        let decision = try Self.engine().decide(example.request)
        #expect(decision.effect == example.effect, "\(decision.reason)")
        #expect(decision.policy == example.policy, "\(decision.reason)")
        #expect(decision.quorum == example.quorum)
    }

    @Test func messagesComeFromTheDecidingRule() throws {
        let engine = try Self.engine()
        let frozen = engine.decide(Self.call(Self.lena, .write, Self.ledger, tool: "cancel_query", at: Self.saturdayNightInBerlin))
        #expect(frozen.message == "Quarter close runs on weekend nights; no changes then.")
        let long = engine.decide(Self.call(Self.lena, .destructive, Self.ledger, tool: "terminate_backend", age: 1200))
        #expect(long.reason.hasPrefix("its transaction has been open 20m 0s with writes; rolling it back may take as long; the limit is 10m 0s"))
    }

    /// Where this project decides differently on purpose: a limit it cannot measure refuses. aiHelpDesk
    /// reads an unknown transaction age or row count as 0 and passes the check (here: require approval).
    @Test func unmeasuredLimitsFailClosedWhereAiHelpDeskPasses() throws {
        let engine = try Self.engine()
        let age = engine.decide(Self.call(Self.lena, .destructive, Self.ledger, tool: "terminate_backend", age: nil))
        #expect(age.effect == .deny && age.policy == "ledger-guard")
        let rows = engine.decide(Self.call(Self.nightwatch, .write, Self.orders, tool: "cancel_query", rows: nil))
        #expect(rows.effect == .deny && rows.policy == "nightwatch")
    }
}
