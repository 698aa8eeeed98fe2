import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskGovernance
import HelpdeskServer
import Logging
import Testing

/// `match.tool` and `match.tool_pattern` against the tools this server has: aiHelpDesk's names of
/// tools that exist here under another name mean ours (warning-free); a name or pattern matching no
/// tool is a warning at its line, since the entry would quietly match no call.
@Suite struct PolicyToolNameTests {
    static let ops = Principal(id: "ops", roles: ["sre"])
    static let orders = Resource(type: .database, name: "orders-db")

    static func loaded(_ match: String) throws -> PolicyLoader.Loaded {
        try PolicyLoader.parse(yaml: """
            version: "1"
            policies:
              - name: by-tool
                resources:
                  - type: database
                    match: \(match)
                rules: [{action: [read, write, destructive], effect: deny}]
            """, file: "p.yaml", knownTools: BuiltInTools.names)
    }

    static func decide(_ policies: [Policy], tool: String, action: ActionClass = .read) -> Decision {
        PolicyEngine(policies: policies).decide(ActionRequest(principal: ops, resource: orders, tool: tool, action: action))
    }

    @Test func theToolListIsEveryToolOfTheAgentsTheServerMakes() {
        let agents = DiagnosisEngine.makeAgents(HelpdeskConfiguration(), environment: [:],
                                                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        #expect(BuiltInTools.names == Set(agents.flatMap { $0.tools }.map(\.name)))
        #expect(BuiltInTools.names.contains("terminate_backend") && BuiltInTools.names.contains("create_silence"))
        for tool in ["replicasets", "nodes", "pvcs", "jobs", "pod_metrics", "rollout_undo", "database_activity", "table_stats"] {
            #expect(BuiltInTools.names.contains(tool), "\(tool)")
        }
    }

    @Test func aiHelpDesksTerminateConnectionIsOurTerminateBackend() throws {
        let loaded = try Self.loaded("{tool: terminate_connection}")
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(loaded.policies.first?.resources.first?.tool == "terminate_backend", "the policy names our tool from then on")
        let decision = Self.decide(loaded.policies, tool: "terminate_backend", action: .destructive)
        #expect(decision.effect == .deny && decision.policy == "by-tool", "\(decision.reason)")
        #expect(Self.decide(loaded.policies, tool: "cancel_query", action: .write).policy == nil)
    }

    /// Every mapped name is a tool here, with the action class aiHelpDesk gives its own (internal/audit/action.go).
    @Test func everyEquivalentIsAToolOfThisServerOfTheSameClass() {
        let agents = DiagnosisEngine.makeAgents(HelpdeskConfiguration(), environment: [:],
                                                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let classes = Dictionary(agents.flatMap { $0.tools }.map { ($0.name, $0.action) }, uniquingKeysWith: { first, _ in first })
        for (theirs, ours) in AIHelpDeskToolNames.equivalents {
            let expected: ActionClass = theirs == "terminate_connection" ? .destructive : .read
            #expect(classes[ours] == expected, "\(theirs) → \(ours)")
            #expect(!BuiltInTools.names.contains(theirs), "\(theirs) is a name of ours too")
        }
    }

    @Test func aPatternMatchesOurNameAndAiHelpDesksNamesForIt() throws {
        let terminate = try Self.loaded("{tool_pattern: \"terminate_*\"}")
        #expect(terminate.warnings.isEmpty)
        #expect(Self.decide(terminate.policies, tool: "terminate_backend", action: .destructive).policy == "by-tool")

        // `get_*` is written for aiHelpDesk's names: it covers their equivalents here, and nothing else.
        let reads = try Self.loaded("{tool_pattern: \"get_*\"}")
        #expect(reads.warnings.isEmpty)
        for tool in ["server_info", "connection_stats", "replication_status", "blocking_locks", "top_queries", "vacuum_stats"] {
            #expect(Self.decide(reads.policies, tool: tool).policy == "by-tool", "\(tool)")
        }
        for tool in ["database_sizes", "cache_hit_ratio", "long_running_queries", "idle_in_transaction", "database_activity", "table_stats"] {
            #expect(Self.decide(reads.policies, tool: tool).policy == nil, "\(tool) has no aiHelpDesk name matching get_*")
        }
    }

    @Test func aToolOfNoAgentHereIsAWarningAtItsLine() throws {
        let loaded = try Self.loaded("{tool: get_session_info}")
        #expect(loaded.warnings.count == 1)
        let warning = try #require(loaded.warnings.first)
        #expect(warning.line == 6)
        #expect(warning.message.hasPrefix("policies.0.resources.0.match.tool: \"get_session_info\" is no tool of this server, "
            + "so this resource entry matches no call; this server's tools: blocking_locks, cache_hit_ratio,"), "\(warning)")
        #expect(loaded.policies.count == 1, "a warning does not stop the load")
    }

    @Test func aPatternMatchingNoToolIsAWarning() throws {
        let loaded = try Self.loaded("{tool_pattern: \"kill_*\"}")
        #expect(loaded.warnings.map(\.message).first?.hasPrefix(
            "policies.0.resources.0.match.tool_pattern: \"kill_*\" matches no tool of this server, so this resource entry matches no call") == true)
    }

    /// Matched as ours (a deny written for them still covers ours), with a warning: aiHelpDesk classes them
    /// destructive, ours are writes, so the rule's action may not cover them.
    @Test(arguments: [("restart_deployment", "rollout_restart"), ("scale_deployment", "scale")])
    func aDeploymentToolOfAnotherActionClassIsMatchedAndWarned(theirs: String, ours: String) throws {
        let loaded = try Self.loaded("{tool: \(theirs)}")
        #expect(loaded.policies.first?.resources.map(\.tool) == [ours])
        #expect(loaded.warnings.first?.message == "policies.0.resources.0.match.tool: aiHelpDesk's \(theirs) is matched as \(ours) here, "
            + "which is a write (aiHelpDesk classes \(theirs) destructive): check that the rule's action covers write")
    }

    /// `rollout_undo` has no aiHelpDesk counterpart: a policy naming it is ours and loads without a warning.
    @Test func rolloutUndoIsAToolOfThisServer() throws {
        let loaded = try Self.loaded("{tool: rollout_undo}")
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(Self.decide(loaded.policies, tool: "rollout_undo", action: .write).policy == "by-tool")
    }

    @Test func aPatternForTheirDeploymentToolsCoversOursAndIsWarned() throws {
        let loaded = try Self.loaded("{tool_pattern: \"*_deployment\"}")
        // The policy denies everything it covers: ours are covered, a tool it does not name falls through.
        #expect(Self.decide(loaded.policies, tool: "scale", action: .write).policy == "by-tool")
        #expect(Self.decide(loaded.policies, tool: "rollout_restart", action: .write).policy == "by-tool")
        #expect(Self.decide(loaded.policies, tool: "pods").policy == nil)
        #expect(loaded.warnings.count == 2)
    }

    /// Without the list (the engine's own tests), names are mapped all the same and nothing is checked.
    @Test func withoutTheListNamesAreStillMapped() throws {
        let loaded = try PolicyLoader.parse(yaml: """
            version: "1"
            policies:
              - name: x
                resources: [{type: database, match: {tool: terminate_connection}}, {type: database, match: {tool: made_up}}]
                rules: [{action: destructive, effect: deny}]
            """, file: "p.yaml", knownTools: nil)
        #expect(loaded.warnings.isEmpty)
        #expect(loaded.policies.first?.resources.map(\.tool) == ["terminate_backend", "made_up"])
    }
}
