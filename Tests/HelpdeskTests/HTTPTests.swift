import Foundation
import HelpdeskConfig
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

@Suite struct HTTPTests {
    struct Harness {
        let folder: TemporaryDirectory
        let store: SQLiteStore
        let registry = PrometheusCollectorRegistry()

        init() throws {
            folder = try TemporaryDirectory()
            store = try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite")))
        }

        func dependencies(workerRunning: Bool = true, maxBodyBytes: Int = 1_048_576, port: Int = 0) -> ServerDependencies {
            var settings = ServerSettings()
            settings.listen = ListenAddress(host: "127.0.0.1", port: port)
            settings.maxBodyBytes = maxBodyBytes
            return ServerDependencies(settings: settings, store: store, workerIsRunning: { workerRunning },
                                      registry: registry, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        }

        func finish() async throws {
            try await store.close()
            folder.remove()
        }
    }

    private func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test func healthzAnswersWithARequestID() async throws {
        let harness = try Harness()
        let app = Application(router: buildRouter(harness.dependencies()))
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
            #expect(try json(response.body)["status"] as? String == "ok")
            #expect(response.headers[HTTPField.Name("X-Request-Id")!]?.isEmpty == false)
            let echoed = try await client.execute(uri: "/healthz", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "abc-123"])
            #expect(echoed.headers[HTTPField.Name("X-Request-Id")!] == "abc-123")
            let hostile = try await client.execute(uri: "/healthz", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "a b\"c"])
            #expect(hostile.headers[HTTPField.Name("X-Request-Id")!] != "a b\"c")
        }
        try await harness.finish()
    }

    @Test func readyzSaysWhyItIsNotReady() async throws {
        let harness = try Harness()
        try await Application(router: buildRouter(harness.dependencies(workerRunning: true))).test(.router) { client in
            let response = try await client.execute(uri: "/readyz", method: .get)
            #expect(response.status == .ok)
            #expect(try json(response.body)["status"] as? String == "ready")
        }
        try await Application(router: buildRouter(harness.dependencies(workerRunning: false))).test(.router) { client in
            let response = try await client.execute(uri: "/readyz", method: .get)
            #expect(response.status == .serviceUnavailable)
            #expect(try json(response.body)["reasons"] as? [String] == ["job worker is not running"])
        }
        try await harness.store.close()
        try await Application(router: buildRouter(harness.dependencies(workerRunning: true))).test(.router) { client in
            let response = try await client.execute(uri: "/readyz", method: .get)
            #expect(response.status == .serviceUnavailable)
            let reasons = try json(response.body)["reasons"] as? [String]
            #expect(reasons?.first?.hasPrefix("store does not answer") == true)
        }
        harness.folder.remove()
    }

    @Test func metricsCountRequestsByRouteAndStatusAndShowQueueDepth() async throws {
        let harness = try Harness()
        try await harness.store.apply(ChangeSet(jobs: [NewJob(kind: "k", payload: "{}"), NewJob(kind: "k", payload: "{}")]))
        try await Application(router: buildRouter(harness.dependencies())).test(.router) { client in
            _ = try await client.execute(uri: "/healthz", method: .get)
            _ = try await client.execute(uri: "/healthz", method: .get)
            _ = try await client.execute(uri: "/no/such/route", method: .get)
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(buffer: response.body)
            #expect(text.contains(#"helpdesk_http_requests_total{route="/healthz",method="GET",status="200"} 2"#))
            #expect(text.contains(#"status="404"} 1"#))
            #expect(text.contains(#"helpdesk_http_request_duration_seconds_count{route="/healthz",method="GET",status="200"} 2"#))
            #expect(text.contains(#"helpdesk_jobs{state="queued"} 2"#))
        }
        try await harness.finish()
    }

    @Test func unknownRouteIsJSON404() async throws {
        let harness = try Harness()
        try await Application(router: buildRouter(harness.dependencies())).test(.router) { client in
            let response = try await client.execute(uri: "/nope", method: .get)
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/json; charset=utf-8")
            let body = try json(response.body)
            let error = try #require(body["error"] as? [String: String])
            #expect(error == ["code": "not_found", "message": "no route for GET /nope"])
            #expect(body["request_id"] as? String == response.headers[HTTPField.Name("X-Request-Id")!])
        }
        try await harness.finish()
    }

    @Test func oversizeBodyIs413() async throws {
        let harness = try Harness()
        try await Application(router: buildRouter(harness.dependencies(maxBodyBytes: 1024))).test(.router) { client in
            let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: 4096)
            let response = try await client.execute(uri: "/healthz", method: .post, body: big)
            #expect(response.status == .contentTooLarge)
            #expect((try json(response.body)["error"] as? [String: String])?["code"] == "content_too_large")
        }
        try await harness.finish()
    }

    @Test func healthAndMetricsOverARealSocket() async throws {
        let harness = try Harness()
        try await buildApplication(harness.dependencies()).test(.live) { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(String(buffer: metrics.body).contains(#"route="/readyz",method="GET",status="200""#))
            let oversize = try await client.execute(uri: "/healthz", method: .post, body: ByteBuffer(repeating: 0, count: 2_000_000))
            #expect(oversize.status == .contentTooLarge)
        }
        try await harness.finish()
    }
}
