import Foundation
import HelpdeskConfig
import HelpdeskCore
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

/// The public edge: malformed bodies get 4xx, callers without credentials are rate limited, and
/// an admin listener keeps metrics and the API off the edge.
@Suite struct EdgeGuardTests {
    private func dependencies(_ store: SQLiteStore, configure: (inout ServerSettings) -> Void = { _ in }) -> ServerDependencies {
        var settings = ServerSettings()
        settings.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configure(&settings)
        return ServerDependencies(settings: settings, store: store, workerIsRunning: { true }, registry: PrometheusCollectorRegistry(),
                                  logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    private func makeStore() throws -> (SQLiteStore, TemporaryDirectory) {
        let folder = try TemporaryDirectory()
        return (try SQLiteStore(options: .init(path: folder.file("helpdesk.sqlite"))), folder)
    }

    @Test func approvalPageAnswersMalformedFormWith4xxAndKeepsServing() async throws {
        let (store, folder) = try makeStore()
        let app = Application(router: buildRouter(dependencies(store)))
        try await app.test(.router) { client in
            for body in ["%", "t=%zz", "%%%%", "csrf=%E0%A4%A"] {
                let response = try await client.execute(uri: "/approvals/apr_x", method: .post,
                                                        headers: [.contentType: "application/x-www-form-urlencoded"],
                                                        body: ByteBuffer(string: body))
                #expect((400..<500).contains(Int(response.status.code)), "\(body) → \(response.status)")
            }
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
        try await store.close()
        folder.remove()
    }

    @Test func unauthenticatedRoutesAreRateLimitedPerSource() async throws {
        let (store, folder) = try makeStore()
        let app = Application(router: buildRouter(dependencies(store) { $0.unauthenticatedPerMinute = 3 }))
        try await app.test(.router) { client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<5 { statuses.append(try await client.execute(uri: "/approvals/apr_x?t=abc", method: .get).status) }
            #expect(statuses.prefix(3).allSatisfy { $0 != .tooManyRequests })
            #expect(statuses.suffix(2).allSatisfy { $0 == .tooManyRequests })
            let limited = try await client.execute(uri: "/webhooks/email", method: .post, body: ByteBuffer(string: "x"))
            #expect(limited.status == .tooManyRequests)
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok, "other routes are not limited")
            for variant in ["//webhooks/email", "/webhooks/email/", "/webhooks//email", "//approvals/x"] {
                #expect(try await client.execute(uri: variant, method: .post, body: ByteBuffer(string: "x")).status == .tooManyRequests,
                        "\(variant) is the same route and the same limit")
            }
        }
        try await store.close()
        folder.remove()
    }

    @Test func repeatedFailedCredentialsAreLimitedEverywhere() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        var deps = harness.dependencies
        var settings = deps.settings
        settings.failedAuthPerMinute = 2
        deps.limits = RateLimits(settings)
        try await Application(router: buildRouter(deps)).test(.router) { client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<4 {
                statuses.append(try await client.execute(uri: "/api/v1/agents", method: .get, headers: [.authorization: "Bearer wrong"]).status)
            }
            #expect(statuses == [.unauthorized, .unauthorized, .tooManyRequests, .tooManyRequests])
            let right = try await client.execute(uri: "/api/v1/agents", method: .get,
                                                 headers: [.authorization: "Bearer \(APITests.token)"])
            #expect(right.status == .tooManyRequests, "the source stays limited until its bucket refills")
            #expect(right.headers[.retryAfter] != nil)
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok, "health probes are never limited")
        }
    }

    @Test func adminListenerKeepsMetricsAndTheAPIOffTheEdge() async throws {
        let (store, folder) = try makeStore()
        let deps = dependencies(store)
        let edge = Application(router: buildRouter(deps, surface: .edge))
        try await edge.test(.router) { client async throws in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/api/v1/openapi.json", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/slack/commands", method: .post).status == .serviceUnavailable)
        }
        let admin = Application(router: buildRouter(deps, surface: .admin))
        try await admin.test(.router) { client async throws in
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/readyz", method: .get).status != .notFound)
            #expect(try await client.execute(uri: "/slack/commands", method: .post).status == .notFound)
            #expect(try await client.execute(uri: "/webhooks/alertmanager", method: .post).status == .notFound)
        }
        try await store.close()
        folder.remove()
    }
}
