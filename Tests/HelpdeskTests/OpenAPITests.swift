import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
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

/// The OpenAPI document served at `/api/v1/openapi.json` is the API's contract: it must parse, say
/// 3.1.0, and describe exactly the routes the server registers, so an undocumented route fails here.
@Suite struct OpenAPITests {
    /// The routes the document covers: the REST API and the health probes (not webhooks, pages or metrics).
    static func isDocumented(_ path: String) -> Bool {
        path.hasPrefix("/api/v1/") || path.hasPrefix("/v1/") || path == "/healthz" || path == "/readyz"
    }

    /// Dependencies with every API route on: an engine (for `/api/v1`) and a gate (for `/v1`).
    static func fullDependencies(_ harness: APITests.Harness) -> ServerDependencies {
        var dependencies = harness.dependencies
        dependencies.governance = Governance(
            policies: PolicySet(PolicyEngine(policies: [])), store: harness.store, agents: [harness.agent], inventory: Infrastructure(),
            directory: UserDirectory(), redactor: Redactor(), defaultTTL: .seconds(60), toolTimeout: .seconds(5),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        return dependencies
    }

    /// Fetches and parses the served document: its status, content type and JSON object.
    static func servedDocument(_ dependencies: ServerDependencies) async throws -> (HTTPResponse.Status, String?, [String: Any]) {
        let (status, contentType, body) = try await Application(router: buildRouter(dependencies)).test(.router) { client in
            let response = try await client.execute(uri: "/api/v1/openapi.json", method: .get)
            return (response.status, response.headers[.contentType], Data(response.body.readableBytesView))
        }
        return (status, contentType, try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any]))
    }

    @Test func servedWithoutATokenEvenWhenTheAPIIsOff() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        var dependencies = harness.dependencies
        dependencies.api = APISettings()
        dependencies.engine = nil
        let (status, contentType, document) = try await Self.servedDocument(dependencies)
        #expect(status == .ok)
        #expect(contentType == "application/json")
        #expect(document["openapi"] as? String == "3.1.0")
        let schemes = (document["components"] as? [String: Any])?["securitySchemes"] as? [String: Any]
        let bearer = schemes?["bearer"] as? [String: Any]
        #expect(bearer?["type"] as? String == "http" && bearer?["scheme"] as? String == "bearer")
    }

    @Test func documentsEveryRegisteredAPIRouteAndNoOther() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        let dependencies = Self.fullDependencies(harness)
        let registered = Set(buildRouter(dependencies).routes
            .filter { Self.isDocumented($0.path.description) }
            .map { "\($0.method.rawValue) \($0.path.description)" })
        let (_, _, document) = try await Self.servedDocument(dependencies)
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
        #expect(registered.contains("POST /v1/approvals/{id}/approve"), "the gate's routes are registered in this test")
        #expect(registered.contains("POST /api/v1/db/{tool}"), "the engine's routes are registered in this test")
        #expect(registered.subtracting(documented).sorted() == [], "routes missing from Sources/HelpdeskServer/openapi.json")
        #expect(documented.subtracting(registered).sorted() == [], "documented routes the server does not have")
    }

    @Test func everyOperationDeclaresItsPathParametersAndAuthenticationFailure() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        let (_, _, document) = try await Self.servedDocument(harness.dependencies)
        let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
        let public_ = ["/healthz", "/readyz", "/api/v1/openapi.json"]
        for (path, operations) in paths {
            let templated = Set(path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
            for (method, operation) in operations {
                let parameters = (operation["parameters"] as? [[String: Any]]) ?? []
                let declared = Set(parameters.filter { $0["in"] as? String == "path" }.compactMap { $0["name"] as? String })
                #expect(declared == templated, "\(method) \(path) declares path parameters \(declared.sorted())")
                let responses = try #require(operation["responses"] as? [String: Any], "\(method) \(path) has no responses")
                #expect((responses["401"] != nil) == !public_.contains(path), "\(method) \(path): 401 documented iff it needs a token")
            }
        }
    }

    @Test func toolParametersListEveryToolOfThisBuild() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        let (_, _, document) = try await Self.servedDocument(harness.dependencies)
        let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
        let agents = DiagnosisEngine.makeAgents(HelpdeskConfiguration(), environment: [:],
                                                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        for (path, agentName) in [("/api/v1/db/{tool}", "database"), ("/api/v1/k8s/{tool}", "kubernetes")] {
            let parameters = (paths[path]?["post"]?["parameters"] as? [[String: Any]]) ?? []
            let tool = parameters.first { $0["name"] as? String == "tool" }
            let documented = ((tool?["schema"] as? [String: Any])?["enum"] as? [String]) ?? []
            let offered = try #require(agents.first { $0.name == agentName }).tools.map(\.name)
            #expect(documented.sorted() == offered.sorted(), "\(path) documents other tools than the \(agentName) agent has")
        }
    }

    @Test func everyReferenceResolves() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        let (_, _, document) = try await Self.servedDocument(harness.dependencies)
        var references: Set<String> = []
        func collect(_ value: Any) {
            if let object = value as? [String: Any] {
                if let reference = object["$ref"] as? String { references.insert(reference) }
                object.values.forEach(collect)
            } else if let array = value as? [Any] {
                array.forEach(collect)
            }
        }
        collect(document)
        #expect(!references.isEmpty)
        for reference in references.sorted() {
            var node: Any? = document
            for key in reference.dropFirst(2).split(separator: "/") {
                node = (node as? [String: Any])?[String(key)]
            }
            #expect(reference.hasPrefix("#/") && node != nil, "\(reference) does not resolve")
        }
    }
}
