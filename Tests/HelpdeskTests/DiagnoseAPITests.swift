import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskOrchestrator
import HelpdeskServer
import HelpdeskStore
import HelpdeskTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// `POST /api/v1/diagnose`, what `helpdesk srebot --server` asks: the token's principal, the one
/// gate, a strict body, 404 for a target outside the inventory, and a bound on work in flight.
@Suite struct DiagnoseAPITests {
    private var auth: HTTPFields { [.authorization: "Bearer \(APITests.token)", .contentType: "application/json"] }

    private func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    private func errorCode(_ response: TestResponse) throws -> String? {
        (try json(response.body)["error"] as? [String: Any])?["code"] as? String
    }

    @Test func refusedWithoutAValidToken() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let body = ByteBuffer(string: #"{"target": "prod-db"}"#)
            let missing = try await client.execute(uri: "/api/v1/diagnose", method: .post, headers: [.contentType: "application/json"], body: body)
            #expect(missing.status == .unauthorized)
            let wrong = try await client.execute(uri: "/api/v1/diagnose", method: .post,
                                                 headers: [.authorization: "Bearer not-the-token-0123456789"], body: body)
            #expect(wrong.status == .unauthorized)
            #expect(try errorCode(wrong) == "unauthorized")
        }
        #expect(harness.agent.received.isEmpty)
    }

    @Test func aBodyItCannotReadIsABadRequest() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            for body in [#"{"target": "prod-db", "symptm": "slow"}"#, #"{"symptom": "slow"}"#, #"{"target": 7}"#, "{not json", "[]",
                         #"{"target": "prod-db\u0000x"}"#] {
                let response = try await client.execute(uri: "/api/v1/diagnose", method: .post, headers: auth, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(body)")
                #expect(try errorCode(response) == "bad_request", "\(body)")
            }
            let typo = try await client.execute(uri: "/api/v1/diagnose", method: .post, headers: auth,
                                                body: ByteBuffer(string: #"{"target": "prod-db", "symptm": "slow"}"#))
            let message = (try json(typo.body)["error"] as? [String: Any])?["message"] as? String
            #expect(message?.contains("symptm") == true, "the refusal names the unknown key")
        }
        #expect(harness.agent.received.isEmpty)
    }

    @Test func aTargetOutsideTheInventoryIsNotFoundAndLeavesNoIncident() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let response = try await client.execute(uri: "/api/v1/diagnose", method: .post, headers: auth,
                                                    body: ByteBuffer(string: #"{"target": "nope-db"}"#))
            #expect(response.status == .notFound)
            #expect(try errorCode(response) == "unknown_target")
            let message = (try json(response.body)["error"] as? [String: Any])?["message"] as? String
            #expect(message == "nope-db is not in the inventory; known targets: prod-db")
        }
        #expect(try await harness.store.incidents.list(limit: 10).isEmpty)
        #expect(harness.agent.received.isEmpty)
    }

    @Test func diagnosesAsTheTokensPrincipalThroughTheGate() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        try await Application(router: buildRouter(harness.dependencies)).test(.router) { client in
            let response = try await client.execute(uri: "/api/v1/diagnose", method: .post, headers: auth,
                                                    body: ByteBuffer(string: #"{"target": "prod-db", "symptom": null}"#))
            #expect(response.status == .ok)
            let body = try json(response.body)
            #expect(body["summary"] as? String == "prod-db: 1 critical — 12 connections")
            #expect(body["healthy"] as? Bool == false)
            #expect((body["findings"] as? [[String: Any]])?.map { $0["rule"] as? String } == ["saturated"])

            // What the command line reads back is what the server wrote, byte for byte.
            let data = Data(response.body.readableBytesView)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let diagnosis = try decoder.decode(Diagnosis.self, from: data)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            #expect(try encoder.encode(diagnosis) == data)
            #expect(!diagnosis.isHealthy && diagnosis.findings.first?.severity == .critical)
        }
        #expect(harness.agent.received.map(\.tool) == ["connection_stats"])
        let calls = try await harness.store.audit.events(since: nil, limit: 100).filter { $0.kind == "tool_call" }
        #expect(calls.map(\.principal) == ["ops"], "decided and audited as the token's principal")
        let call = try #require(calls.first)
        let data = try JSONSerialization.jsonObject(with: Data(call.data.utf8)) as? [String: Any]
        #expect(data?["via"] as? String == "api")
    }

    @Test func refusedWithRetryAfterWhileEveryPlaceIsTaken() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        var dependencies = harness.dependencies
        let engine = try #require(dependencies.engine)
        dependencies.engine = DiagnosisEngine(agents: engine.agents, orchestrator: engine.orchestrator, maxConcurrentAPIDiagnoses: 1)
        let limit = try #require(dependencies.engine).apiDiagnoses
        try await Application(router: buildRouter(dependencies)).test(.router) { client in
            // The one place is held, as by a diagnosis still running: the next caller is told to come back.
            let busy = try await limit.withPermit {
                try await client.execute(uri: "/api/v1/diagnose", method: .post, headers: auth,
                                         body: ByteBuffer(string: #"{"target": "prod-db"}"#))
            }
            #expect(busy.status == .serviceUnavailable)
            #expect(try errorCode(busy) == "busy")
            #expect(busy.headers[.retryAfter] == "5")
            let query = try await limit.withPermit {
                try await client.execute(uri: "/api/v1/query", method: .post, headers: auth, body: ByteBuffer(string: #"{"target": "prod-db"}"#))
            }
            #expect(query.status == .serviceUnavailable, "/query shares the bound")
            #expect(harness.agent.received.isEmpty)

            let freed = try await client.execute(uri: "/api/v1/diagnose", method: .post, headers: auth,
                                                 body: ByteBuffer(string: #"{"target": "prod-db"}"#))
            #expect(freed.status == .ok, "the place is back once the diagnosis holding it ended")
        }
    }

    @Test func aFreePlaceIsTakenWithoutWaitingAndAFullSemaphoreAnswersAtOnce() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        let first = await semaphore.withPermitIfAvailable { 1 }
        #expect(first == 1)
        let inner = try await semaphore.withPermit {
            await semaphore.withPermitIfAvailable { 2 }
        }
        #expect(inner == nil, "the only permit is held")
        let after = await semaphore.withPermitIfAvailable { 3 }
        #expect(after == 3, "released after use")
    }
}
