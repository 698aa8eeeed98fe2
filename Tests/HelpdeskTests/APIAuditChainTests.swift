import Foundation
import HelpdeskServer
import HelpdeskStore
import HelpdeskTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Found by schemathesis: a target holding NUL reached the gate, whose audit event stored the target
/// cut at the NUL while its hash covered the whole text, so `/v1/verify` then called the chain edited.
@Suite struct APIAuditChainTests {
    private var auth: HTTPFields { [.authorization: "Bearer \(APITests.token)", .contentType: "application/json"] }

    @Test(arguments: ["/api/v1/db/connection_stats", "/api/v1/query"])
    func targetWithControlCharactersIsRefusedAndTheChainHolds(path: String) async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        let dependencies = OpenAPITests.fullDependencies(harness)
        try await Application(router: buildRouter(dependencies)).test(.router) { client in
            for target in ["prod\u{0}-db", "prod-db\n", "\u{1b}[31mprod-db"] {
                let body = try JSONEncoder().encode(["target": target])
                let response = try await client.execute(uri: path, method: .post, headers: auth, body: ByteBuffer(bytes: body))
                #expect(response.status == .badRequest, "\(path) with \(target.debugDescription)")
            }
            // A plain target still passes the gate (denied here: the policy set is empty) and is audited.
            let plain = try await client.execute(uri: "/api/v1/db/connection_stats", method: .post, headers: auth,
                                                 body: ByteBuffer(string: #"{"target": "prod-db"}"#))
            #expect(plain.status == .forbidden)
        }
        let verification = try await harness.store.audit.verify()
        #expect(verification.ok, "\(verification.problem ?? "")")
        #expect(verification.checked >= 4)
    }
}
