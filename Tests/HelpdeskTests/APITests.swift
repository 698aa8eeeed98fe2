import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskGovernance
import HelpdeskCore
import HelpdeskOrchestrator
import HelpdeskServer
import HelpdeskStore
import HelpdeskTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing
import Yams

@Suite struct APITests {
    static let token = "test-token-0123456789"

    struct Harness: Sendable {
        let folder: TemporaryDirectory
        let store: SQLiteStore
        let agent: FakeAgent
        let dependencies: ServerDependencies

        init() throws {
            folder = try TemporaryDirectory()
            store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
            agent = FakeAgent(
                tools: [FakeAgent.read("connection_stats"),
                        ToolDescriptor(name: "terminate_backend", agent: "database", action: .destructive, summary: "",
                                       parameters: [ToolParameter("pid", .integer, required: true, "pid")])],
                answers: ["connection_stats": .output(.object(["total": .number(12), "used_ratio": .number(0.95)]))])
            let runbook = try YAMLDecoder().decode(Runbook.self, from: """
                name: connections
                match: {fallback: true}
                tools: [{tool: connection_stats}]
                rules: [{id: saturated, tool: connection_stats, when: [{field: used_ratio, above: 0.9}], severity: critical, finding: "{total} connections"}]
                """)
            var inventory = Infrastructure()
            inventory.dbServers = [.init(id: "prod-db", connectionString: "host=x")]
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let policies = PolicySet(PolicyEngine(policies: try YAMLDecoder().decode(PolicyFile.self, from: """
                version: "1"
                policies:
                  - name: api-test
                    rules:
                      - {action: read, effect: allow}
                      - {action: destructive, effect: require_approval}
                """).policies))
            let governance = Governance(policies: policies, store: store, agents: [agent], inventory: inventory, directory: UserDirectory(),
                                        redactor: Redactor(), defaultTTL: .seconds(3600), toolTimeout: .seconds(5), logger: logger)
            let orchestrator = Orchestrator(
                runbooks: [runbook], gate: governance, inventory: inventory,
                options: .init(toolTimeout: .seconds(5), bundleDirectory: folder.file("bundles"), bundleRetention: .seconds(86400)),
                store: store, logger: logger)
            var dependencies = ServerDependencies(settings: ServerSettings(), store: store, workerIsRunning: { true },
                                                  registry: PrometheusCollectorRegistry(), logger: logger)
            dependencies.engine = DiagnosisEngine(agents: [agent], orchestrator: orchestrator)
            dependencies.governance = governance
            dependencies.api = try HelpdeskConfiguration(yaml: "api:\n  tokens:\n    ops:\n      token_file: \(try folder.write("token", APITests.token))\n",
                                                         file: "test.yaml").api
            self.dependencies = dependencies
        }
    }

    private var auth: HTTPFields { [.authorization: "Bearer \(Self.token)", .contentType: "application/json"] }

    private func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    private func errorCode(_ response: TestResponse) throws -> String? {
        (try json(response.body)["error"] as? [String: Any])?["code"] as? String
    }

    @Test func everyEndpointNeedsAValidBearerToken() async throws {
        let harness = try Harness()
        defer { harness.folder.remove() }
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let missing = try await client.execute(uri: "/api/v1/agents", method: .get)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate] == "Bearer")
            let wrong = try await client.execute(uri: "/api/v1/agents", method: .get, headers: [.authorization: "Bearer test-token-0123456788"])
            #expect(wrong.status == .unauthorized)
            #expect(try errorCode(wrong) == "unauthorized")
            #expect(try await client.execute(uri: "/api/v1/incidents", method: .get, headers: auth).status == .ok)
        }
    }

    @Test func agentsListTheirToolsWithActionClassesAndInputs() async throws {
        let harness = try Harness()
        defer { harness.folder.remove() }
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let response = try await client.execute(uri: "/api/v1/agents", method: .get, headers: auth)
            #expect(response.status == .ok)
            let agents = try #require(try json(response.body)["agents"] as? [[String: Any]])
            let tools = try #require(agents.first?["tools"] as? [[String: Any]])
            #expect(tools.map { $0["name"] as? String } == ["connection_stats", "terminate_backend"])
            #expect(tools.last?["action"] as? String == "destructive")
            #expect((tools.last?["parameters"] as? [[String: Any]])?.first?["name"] as? String == "pid")
        }
    }

    @Test func readToolRunsAndDestructiveToolWaitsForApproval() async throws {
        let harness = try Harness()
        defer { harness.folder.remove() }
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let read = try await client.execute(uri: "/api/v1/db/connection_stats", method: .post, headers: auth,
                                                body: ByteBuffer(string: #"{"target": "prod-db"}"#))
            #expect(read.status == .ok)
            #expect((try json(read.body)["output"] as? [String: Any])?["total"] as? Int == 12)
            let write = try await client.execute(uri: "/api/v1/db/terminate_backend", method: .post, headers: auth,
                                                 body: ByteBuffer(string: #"{"target": "prod-db", "arguments": {"pid": 42}}"#))
            #expect(write.status == .accepted)
            #expect(try json(write.body)["status"] as? String == "pending_approval")
            #expect(!harness.agent.received.contains { $0.tool == "terminate_backend" })
            let badArguments = try await client.execute(uri: "/api/v1/db/terminate_backend", method: .post, headers: auth,
                                                        body: ByteBuffer(string: #"{"target": "prod-db", "arguments": {"pid": "x"}}"#))
            #expect(badArguments.status == .unprocessableContent)
            let unknown = try await client.execute(uri: "/api/v1/db/drop_database", method: .post, headers: auth,
                                                   body: ByteBuffer(string: #"{"target": "prod-db"}"#))
            #expect(unknown.status == .notFound)
            #expect(try errorCode(unknown) == "unknown_tool")
            let malformed = try await client.execute(uri: "/api/v1/db/connection_stats", method: .post, headers: auth,
                                                     body: ByteBuffer(string: "{not json"))
            #expect(malformed.status == .badRequest)
            #expect(try errorCode(malformed) == "bad_request")
        }
    }

    @Test func anIdempotencyKeyReusedForAnotherCallIsRefused() async throws {
        let harness = try Harness()
        defer { harness.folder.remove() }
        let headers: HTTPFields = {
            var fields = auth
            fields[HTTPField.Name("Idempotency-Key")!] = "retry-1"
            return fields
        }()
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let body = { (pid: Int) in ByteBuffer(string: "{\"target\": \"prod-db\", \"arguments\": {\"pid\": \(pid)}}") }
            let first = try await client.execute(uri: "/api/v1/db/terminate_backend", method: .post, headers: headers, body: body(42))
            #expect(first.status == .accepted)
            let retry = try await client.execute(uri: "/api/v1/db/terminate_backend", method: .post, headers: headers, body: body(42))
            #expect(retry.status == .accepted, "the same call under the same key answers with its approval request")
            let other = try await client.execute(uri: "/api/v1/db/terminate_backend", method: .post, headers: headers, body: body(4242))
            #expect(other.status == .unprocessableContent, "the key was first used for pid 42, not 4242")
            #expect(try errorCode(other) == "idempotency_key_reused")
        }
        #expect(!harness.agent.received.contains { $0.tool == "terminate_backend" })
    }

    @Test func queryDiagnosesAndTheIncidentAndBundleCanBeFetched() async throws {
        let harness = try Harness()
        defer { harness.folder.remove() }
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let query = try await client.execute(uri: "/api/v1/query", method: .post, headers: auth,
                                                 body: ByteBuffer(string: #"{"target": "prod-db", "symptom": "slow"}"#))
            #expect(query.status == .ok)
            let diagnosis = try json(query.body)
            #expect(diagnosis["summary"] as? String == "prod-db: 1 critical — 12 connections")
            let id = try #require(diagnosis["incident_id"] as? String)

            let list = try await client.execute(uri: "/api/v1/incidents", method: .get, headers: auth)
            #expect((try json(list.body)["incidents"] as? [[String: Any]])?.first?["id"] as? String == id)
            let one = try await client.execute(uri: "/api/v1/incidents/\(id)", method: .get, headers: auth)
            #expect(try json(one.body)["severity"] as? String == "critical")
            let bundle = try await client.execute(uri: "/api/v1/incidents/\(id)/bundle", method: .get, headers: auth)
            #expect(bundle.status == .ok)
            #expect(bundle.headers[.contentType] == "application/gzip")
            #expect(Array(bundle.body.readableBytesView.prefix(2)) == [0x1f, 0x8b], "gzip magic")
            let missing = try await client.execute(uri: "/api/v1/incidents/inc_nope", method: .get, headers: auth)
            #expect(missing.status == .notFound)
        }
    }
}
