import Foundation
import HelpdeskAgents
import HelpdeskGovernance
import Testing
import Yams

/// `max_xact_age_secs`: ending a session whose transaction has written for longer than the limit is
/// refused (its rollback may take as long); an age the tool cannot read refuses too (fail closed).
@Suite struct TransactionAgePolicyTests {
    static func engine(limit: Int) throws -> PolicyEngine {
        PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: """
            version: "1.0"
            policies:
              - name: careful-endings
                resources: [{type: database}, {type: kubernetes}]
                rules:
                  - action: [read, write, destructive]
                    effect: allow
                    conditions: {max_xact_age_secs: \(limit)}
            """).policies)
    }

    static let ops = Principal(id: "olga", roles: ["ops"])

    func terminate(age: Int?) -> ActionRequest {
        ActionRequest(principal: Self.ops, resource: Resource(type: .database, name: "ledger-db"), tool: "terminate_backend",
                      action: .destructive, rowsAffected: 0, transactionAgeSeconds: age)
    }

    @Test func anAgeTheToolCannotSayDenies() throws {
        let decision = try Self.engine(limit: 300).decide(terminate(age: nil))
        #expect(decision.effect == .deny)
        #expect(decision.reason.hasPrefix(
            "terminate_backend cannot say how long the transaction of the session it would end has been open (max_xact_age_secs 300)"))
    }

    @Test(arguments: [0, 1, 299, 300])
    func anAgeUpToTheLimitIsAllowed(age: Int) throws {
        #expect(try Self.engine(limit: 300).decide(terminate(age: age)).effect == .allow)
    }

    @Test func anAgeOverTheLimitDeniesInAiHelpDesksWords() throws {
        let long = try Self.engine(limit: 3600).decide(terminate(age: 7500))
        #expect(long.effect == .deny && long.policy == "careful-endings")
        #expect(long.reason.hasPrefix("its transaction has been open 2h 5m with writes; rolling it back may take as long; the limit is 1h 0m, by policy careful-endings"))
        let short = try Self.engine(limit: 45).decide(terminate(age: 250))
        #expect(short.reason.hasPrefix("its transaction has been open 4m 10s with writes; rolling it back may take as long; the limit is 45s"))
        let cancel = ActionRequest(principal: Self.ops, resource: Resource(type: .database, name: "ledger-db"), tool: "cancel_query",
                                   action: .write, transactionAgeSeconds: 301)
        #expect(try Self.engine(limit: 300).decide(cancel).reason.hasPrefix("its transaction has been open 5m 1s with writes"))
    }

    @Test func readsAreNotAffected() throws {
        let read = ActionRequest(principal: Self.ops, resource: Resource(type: .database, name: "ledger-db"), tool: "idle_in_transaction",
                                 action: .read)
        #expect(try Self.engine(limit: 1).decide(read).effect == .allow, "a read ends no session, measured or not")
    }

    @Test func kubernetesToolsStateZeroAndAreNotAffected() throws {
        // What KubernetesAgent states for its writes (KubernetesImpactTests): 0, no session ends.
        let restart = ActionRequest(principal: Self.ops, resource: Resource(type: .kubernetes, name: "apps-k8s"), tool: "rollout_restart",
                                    action: .write, podsAffected: 3, transactionAgeSeconds: 0)
        #expect(try Self.engine(limit: 1).decide(restart).effect == .allow)
    }

    /// 0 is no limit, as in aiHelpDesk (PolicyWarningTests); below 0 is refused at its line.
    @Test func aNegativeLimitIsRefused() {
        let text = "version: \"1\"\npolicies:\n  - name: x\n    rules:\n      - action: destructive\n        effect: allow\n"
            + "        conditions: {max_xact_age_secs: -5}\n"
        let errors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: text, file: "p.yaml") }
        #expect(errors?.errors.first?.line == 7)
        #expect(errors?.errors.first?.message.contains("max_xact_age_secs must be 1 or more, got -5; leave the key out for no limit") == true)
    }

    @Test func theImpactCarriesTheAgeUnderItsJSONName() throws {
        let encoded = String(decoding: try JSONEncoder().encode(ToolImpact(rows: 0, pods: 0, sessions: 1, transactionAgeSeconds: 42)), as: UTF8.self)
        #expect(encoded.contains("\"transaction_age_seconds\":42"))
        // Approval requests recorded before the field existed still decode.
        let old = try JSONDecoder().decode(ToolImpact.self, from: Data(#"{"rows":0,"pods":0,"sessions":1}"#.utf8))
        #expect(old == ToolImpact(rows: 0, pods: 0, sessions: 1))
    }
}
