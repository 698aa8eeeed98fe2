import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Testing
import Yams

/// What a migration from aiHelpDesk meets between its files: purposes on reads, principal names that
/// could pass for a service, and tokens named after the built-in bots.
@Suite struct AiHelpDeskGlueTests {
    /// aiHelpDesk's example gives reads only to declared purposes; its srebot declares `diagnostic`.
    static let purposeGated = """
        version: "1.0"
        policies:
          - name: reads-for-a-reason
            resources: [{type: database}]
            rules:
              - action: read
                effect: allow
                conditions: {allowed_purposes: [diagnostic, remediation]}
              - action: [write, destructive]
                effect: allow
                conditions: {allowed_purposes: [remediation]}
        """

    static func decide(_ action: ActionClass, purpose: String?) throws -> Decision {
        let engine = PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: purposeGated).policies)
        return engine.decide(ActionRequest(principal: Principal(id: "ines", roles: ["dba"]), resource: Resource(type: .database, name: "ledger"),
                                           tool: action == .read ? "blocking_locks" : "terminate_backend", action: action,
                                           rowsAffected: 0, podsAffected: 0, transactionAgeSeconds: 0, purpose: purpose))
    }

    @Test func aDirectReadThatDeclaresNoPurposeIsDeniedAsInAiHelpDesk() throws {
        let decision = try Self.decide(.read, purpose: nil)
        #expect(decision.effect == .deny)
        #expect(decision.reason.contains("(none given)"))
        #expect(try Self.decide(.read, purpose: "compliance").effect == .deny)
        #expect(try Self.decide(.read, purpose: "diagnostic").effect == .allow)
    }

    @Test func aWriteThatDeclaresNoPurposeGetsNone() throws {
        let decision = try Self.decide(.destructive, purpose: nil)
        #expect(decision.effect == .deny)
        #expect(decision.reason.contains("(none given)"))
        #expect(try Self.decide(.destructive, purpose: "remediation").effect == .allow)
    }

    /// A diagnosis declares `diagnostic` for its reads, as aiHelpDesk's srebot does; what it may
    /// recommend (a write) declares nothing, so a person requests it with their own purpose.
    @Test func aDiagnosisReadsAsDiagnostic() async throws {
        try await withTemporaryStore(.sqlite) { store in
            let agent = FakeAgent(tools: [
                ToolDescriptor(name: "blocking_locks", agent: "database", action: .read, summary: "", parameters: []),
                ToolDescriptor(name: "terminate_backend", agent: "database", action: .destructive, summary: "",
                               parameters: [ToolParameter("pid", .integer, "pid")]),
            ], answers: ["blocking_locks": .output(.array([]))])
            var inventory = Infrastructure()
            inventory.dbServers = [.init(id: "ledger", connectionString: "host=x")]
            let governance = Governance(
                policies: PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: Self.purposeGated).policies)),
                store: store, agents: [agent], inventory: inventory, directory: UserDirectory(), redactor: Redactor(),
                defaultTTL: .seconds(3600), toolTimeout: .seconds(5), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let ines = Principal(id: "ines", roles: ["dba"])
            let read = await governance.read(ToolCall(tool: "blocking_locks", target: "ledger"), for: ines, timeout: .seconds(5), via: "test")
            #expect(read.verdict.effect == .allow, "\(read.verdict.explanation)")
            #expect(agent.received.map(\.tool) == ["blocking_locks"])
            #expect(governance.offer(for: "ledger", to: ines, scope: [:]).map(\.name) == ["blocking_locks"])
        }
    }

    @Test(arguments: ["service:srebot", "role:dba", "Group:ops", "user:x", "anonymous", "*"])
    func aPersonCannotBeNamedLikeAPrincipalString(name: String) throws {
        let error = #expect(throws: ConfigError.self) {
            try HelpdeskConfiguration(yaml: "users:\n  \"\(name)\":\n    roles: [dba]\n", file: "h.yaml")
        }
        #expect(error?.description.contains("h.yaml:3: users.\(name): ") == true, "\(String(describing: error))")
    }

    @Test func aUsersFileIdIsCheckedTheSameWay() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("glue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("users.yaml").path
        try "users:\n  - id: ada@example.net\n    roles: [dba]\n  - id: \"service:srebot\"\n    roles: [dba]\n".write(toFile: file, atomically: true, encoding: .utf8)
        let error = #expect(throws: ConfigError.self) {
            try HelpdeskConfiguration(yaml: "users:\n  file: \(file)\n", file: "h.yaml")
        }
        #expect(error?.issues.map(\.description) == [
            "\(file):4: users[1].id: a person's name cannot start with service: (principal strings read it as a service, not a person); rename it",
        ])
    }

    @Test(arguments: BuiltInServices.reserved.sorted())
    func anAPITokenCannotActAsABuiltInBot(id: String) throws {
        let error = #expect(throws: ConfigError.self) {
            try HelpdeskConfiguration(yaml: "api:\n  tokens:\n    \"service:\(id)\":\n      token_sha256: \(String(repeating: "ab", count: 32))\n",
                                      file: "h.yaml")
        }
        #expect(error?.issues.count == 1, "one problem: the name, not also its keys")
        #expect(error?.description.contains("h.yaml:4: api.tokens.service:\(id): service:\(id) is ") == true, "\(String(describing: error))")
    }

    @Test func aTokenNamedForAnotherServiceLoads() throws {
        let configuration = try HelpdeskConfiguration(
            yaml: "api:\n  tokens:\n    \"service:ci\":\n      token_sha256: \(String(repeating: "ab", count: 32))\n", file: "h.yaml")
        #expect(configuration.api.tokens.map(\.principal) == ["service:ci"])
    }

    @Test func everyReservedIdHasItsWords() {
        for id in BuiltInServices.reserved { #expect(BuiltInServices.role(of: id) != nil) }
        #expect(BuiltInServices.role(of: "srebot-api") == nil)
        #expect(BuiltInServices.reserved.contains(Principal.alertBot.id))
    }
}

/// aiHelpDesk expands environment variables in policy files; here they are read as written, and said so.
@Suite struct PolicyEnvironmentReferenceTests {
    @Test func referencesOutsideCommentsAreWarnedAtTheirLines() throws {
        let text = """
            version: "1"
            # ${NOT_THIS} is a comment
            policies:
              - name: on-call
                principals: [{user: "${ONCALL_USER}"}]
                resources: [{type: database}]
                rules:
                  - action: read
                    effect: allow
                    message: "costs $5, ask $TEAM_LEAD"
            """
        let loaded = try PolicyLoader.parse(yaml: text, file: "p.yaml", knownTools: [])
        #expect(loaded.warnings.map(\.description) == [
            "p.yaml:5: ${ONCALL_USER} is read as written: aiHelpDesk would replace it with the environment variable's value, this project does not; write the value itself",
            "p.yaml:10: $5 is read as written: aiHelpDesk would replace it with the environment variable's value, this project does not; write the value itself",
        ])
    }
}
