import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskPostgres
import HelpdeskServer
import Testing

/// What `helpdesk demo` writes loads through the loader `serve` uses, without a problem or a warning,
/// and says what the story needs: two DBAs end a session, oncall asks but cannot approve.
@Suite struct DemoFilesTests {
    /// One hash for every test (Argon2id at its real cost takes a while).
    static let passwordHash = Argon2idHash.make(secret: Array("correct horse battery".utf8))

    /// The files, written into a new folder whose name needs quoting (a space, a quote); remove it after.
    static func written() throws -> DemoFiles {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("helpdesk demo's \(UUID().uuidString)").path
        try createPrivateDirectory(folder)
        let files = DemoFiles(folder: folder, listen: ListenAddress(host: "127.0.0.1", port: 0),
                              postgresSocketDirectory: folder + "/pg", postgresPort: 5432, passwordHash: passwordHash)
        try files.write()
        return files
    }

    @Test func theConfigurationLoadsWithoutProblemsOrWarnings() throws {
        let files = try Self.written()
        defer { try? FileManager.default.removeItem(atPath: files.folder) }
        let configuration = try HelpdeskConfiguration(contentsOf: files.configurationPath)
        #expect(configuration.warnings.isEmpty, "\(configuration.warnings)")
        #expect(configuration.server.listen == ListenAddress(host: "127.0.0.1", port: 0))
        #expect(configuration.store.path == files.folder + "/helpdesk.sqlite")
        #expect(configuration.infrastructure.dbServers.map(\.id) == [DemoFiles.databaseID])
        #expect(configuration.alertmanager.receivers.map(\.name) == [DemoFiles.receiver])
        #expect(configuration.directory.users.map(\.name) == ["oncall", "dba1", "dba2"])
        #expect(configuration.directory.users.allSatisfy { $0.passwordHash?.encoded == Self.passwordHash })
        #expect(configuration.audit.key != nil, "the demo's chain is sealed with a key")
    }

    /// The socket folder survives the connection string's quoting, as the bot's tools read it.
    @Test func theDatabaseIsReachedOnTheDemoSocketAsTheBotsRole() throws {
        let files = try Self.written()
        defer { try? FileManager.default.removeItem(atPath: files.folder) }
        let connection = try PostgresConnectionString(parsing: files.connectionString)
        #expect(connection.host == files.folder + "/pg")
        #expect(connection.unixSocketPath == files.folder + "/pg/.s.PGSQL.5432")
        #expect(connection.user == DemoFiles.botRole)
        #expect(connection.database == "shop")
    }

    @Test func endingASessionTakesTwoDBAsAndOncallCannotApprove() throws {
        let files = try Self.written()
        defer { try? FileManager.default.removeItem(atPath: files.folder) }
        let configuration = try HelpdeskConfiguration(contentsOf: files.configurationPath)
        let loaded = try PolicyLoader.load(from: ContentLibrary(configuration), knownTools: BuiltInTools.names)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        let engine = PolicyEngine(policies: loaded.policies)
        let database = Resource(type: .database, name: DemoFiles.databaseID, tags: ["demo"])
        let person = { (name: String) in Governance.principal(named: name, in: configuration.directory) }

        let terminate = engine.decide(ActionRequest(principal: person("oncall"), resource: database, tool: "terminate_backend",
                                                    action: .destructive))
        #expect(terminate.effect == .requireApproval)
        #expect(terminate.quorum == 2)
        let approvers = terminate.approvers.map(PrincipalMatcher.parse)
        #expect(approvers.contains { $0.matches(person("dba1")) } && approvers.contains { $0.matches(person("dba2")) })
        #expect(!approvers.contains { $0.matches(person("oncall")) }, "oncall asks; only DBAs approve")

        let read = { (principal: Principal) in
            engine.decide(ActionRequest(principal: principal, resource: database, tool: "blocking_locks", action: .read)).effect
        }
        for reader in [person("oncall"), person("dba1"), Principal.alertBot] {
            #expect(read(reader) == .allow, "\(reader)")
        }
        #expect(read(person("mallory")) == .deny, "someone not in the demo")
    }
}
