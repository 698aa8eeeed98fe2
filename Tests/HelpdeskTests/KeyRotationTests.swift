import Crypto
import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskServer
import HelpdeskSlack
import HelpdeskStore
import HelpdeskTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Secrets rotate without downtime: during a window both keys verify, after it only the new one.
@Suite struct SlackSecretRotationTests {
    static let body = Array("token=x&team_id=T1&user_id=U1&command=%2Fhelpdesk&text=help&response_url=x".utf8)
    static let timestamp = "1531420618"
    static let signedAt = Date(timeIntervalSince1970: 1_531_420_618)
    static let old = Secret("old-signing-secret-0123456789")
    static let new = Secret("new-signing-secret-0123456789")
    static let previous = SlackSettings.PreviousSigningSecret(secret: old, until: signedAt.addingTimeInterval(60))

    func verify(signedWith secret: Secret, at now: Date) -> SlackSignature.Failure? {
        let signature = SlackSignature.sign(body: Self.body, timestamp: Self.timestamp, secret: secret)
        let accepted = SlackSignature.acceptedSecrets(current: Self.new, previous: Self.previous, now: now)
        return SlackSignature.verify(body: Self.body, timestamp: Self.timestamp, signature: signature, secrets: accepted, now: now)
    }

    @Test func currentAndPreviousSecretAreAcceptedInsideTheWindow() {
        #expect(verify(signedWith: Self.new, at: Self.signedAt) == nil)
        #expect(verify(signedWith: Self.old, at: Self.signedAt) == nil)
        #expect(verify(signedWith: Self.old, at: Self.previous.until) == nil, "the window's end is inclusive")
        #expect(verify(signedWith: Secret("neither-of-them"), at: Self.signedAt) == .mismatch)
    }

    @Test func previousSecretIsRefusedAfterTheWindow() {
        let after = Self.previous.until.addingTimeInterval(1)
        #expect(verify(signedWith: Self.old, at: after) == .mismatch)
        #expect(verify(signedWith: Self.new, at: after) == nil)
        #expect(SlackSignature.acceptedSecrets(current: Self.new, previous: Self.previous, now: after) == [Self.new])
    }

    /// The routes set each secret's key up once and reuse it for every request: a reused key must
    /// verify the next request as a fresh one would, and the previous key only inside its window.
    @Test func theRoutesAcceptThePreviousSecretOnlyInsideItsWindow() async throws {
        for (until, previousAnswer) in [(Date().addingTimeInterval(600), HTTPResponse.Status.ok), (Date().addingTimeInterval(-1), .unauthorized)] {
            let harness = try APITests.Harness()
            defer { harness.folder.remove() }
            let dependencies = try await Self.slackDependencies(harness, previous: SlackSettings.PreviousSigningSecret(secret: Self.old, until: until))
            try await Application(router: buildRouter(dependencies)).test(.router) { client in
                for (index, secret) in [Self.new, Self.old, Self.new, Self.old, Secret("neither-of-them")].enumerated() {
                    let body = "team_id=T1&channel_id=C1&user_id=U1&command=%2Fhelpdesk&trigger_id=1.2.\(index)&text=help"
                        + "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx"
                    let timestamp = String(Int(Date().timeIntervalSince1970))
                    let response = try await client.execute(
                        uri: "/slack/commands", method: .post,
                        headers: [.contentType: "application/x-www-form-urlencoded", HTTPField.Name("X-Slack-Request-Timestamp")!: timestamp,
                                  HTTPField.Name("X-Slack-Signature")!: SlackSignature.sign(body: Array(body.utf8), timestamp: timestamp, secret: secret)],
                        body: ByteBuffer(string: body))
                    let expected: HTTPResponse.Status = secret == Self.new ? .ok : secret == Self.old ? previousAnswer : .unauthorized
                    #expect(response.status == expected, "request \(index) (window ends \(until)) answered \(response.status)")
                }
            }
            try await harness.store.close()
        }
    }

    /// Slack sends its timestamp and signature once each: a request that carries either twice is
    /// refused, even when every copy is valid.
    @Test func aSignatureHeaderSentTwiceIsRefused() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        let dependencies = try await Self.slackDependencies(harness, previous: nil)
        try await Application(router: buildRouter(dependencies)).test(.router) { client in
            for twice in [nil, "X-Slack-Signature", "X-Slack-Request-Timestamp"] {
                let body = "team_id=T1&channel_id=C1&user_id=U1&command=%2Fhelpdesk&trigger_id=1.2.\(twice ?? "once")&text=help"
                    + "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx"
                let timestamp = String(Int(Date().timeIntervalSince1970))
                var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded", HTTPField.Name("X-Slack-Request-Timestamp")!: timestamp,
                                           HTTPField.Name("X-Slack-Signature")!: SlackSignature.sign(body: Array(body.utf8), timestamp: timestamp, secret: Self.new)]
                if let twice, let name = HTTPField.Name(twice), let value = headers[name] { headers.append(HTTPField(name: name, value: value)) }
                let response = try await client.execute(uri: "/slack/commands", method: .post, headers: headers, body: ByteBuffer(string: body))
                #expect(response.status == (twice == nil ? .ok : .unauthorized), "\(twice ?? "each once"): \(response.status)")
            }
        }
        try await harness.store.close()
    }

    /// The harness's routes with Slack configured: signed with ``new``, and `previous` during its window.
    static func slackDependencies(_ harness: APITests.Harness, previous: SlackSettings.PreviousSigningSecret?) async throws -> ServerDependencies {
        var dependencies = harness.dependencies
        let engine = try #require(dependencies.engine)
        let governance = try #require(dependencies.governance)
        dependencies.slackSigningSecret = Self.new
        dependencies.slackPreviousSigningSecret = previous
        dependencies.slack = SlackCommandContext(orchestrator: engine.orchestrator, governance: governance, store: harness.store,
                                                 directory: UserDirectory(), renderer: try await SlackRenderer(directory: SlackAuditRedactionTests.templates),
                                                 commandName: "/helpdesk", clusters: [])
        return dependencies
    }

    /// The keyed HMAC state forges signatures as well as the secret does.
    @Test func aSigningKeyNeverPrintsItsState() {
        let key = SlackSignature.Key(Self.new)
        var dumped = ""
        dump(key, to: &dumped)
        #expect("\(key)" == "<redacted signing key>")
        #expect(String(reflecting: key) == "<redacted signing key>")
        #expect(dumped.contains("redacted") && !dumped.contains("keyed") && !dumped.contains("Hasher"), "dump shows: \(dumped)")
    }

    @Test func signatureIsLowercaseHexOfTheDigest() {
        let signature = SlackSignature.sign(body: Self.body, timestamp: Self.timestamp, secret: Self.new)
        var message = Array("v0:\(Self.timestamp):".utf8)
        message += Self.body
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(Self.new.reveal().utf8)))
        let hex = code.map { byte in String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined()
        #expect(signature == "v0=" + hex)
    }

    @Test func rotationWindowIsReadFromTheConfiguration() throws {
        let yaml = "slack: {previous_signing_secret_until: \"2026-03-01T12:00:00+01:00\"}"
        let configuration = try HelpdeskConfiguration(yaml: yaml, file: "t.yaml", environment: [
            "SLACK_SIGNING_SECRET": "new-secret", "SLACK_PREVIOUS_SIGNING_SECRET": "old-secret"])
        let previous = try #require(configuration.slack.previousSigningSecret)
        #expect(previous.secret.reveal() == "old-secret")
        #expect(previous.until == Date(timeIntervalSince1970: 1_772_362_800))
        #expect(configuration.secrets.contains(Secret("old-secret")), "the log redactor masks the previous secret too")
    }

    @Test func previousSecretWithoutAnEndIsRefusedAtLoad() {
        let environment = ["SLACK_SIGNING_SECRET": "new-secret", "SLACK_PREVIOUS_SIGNING_SECRET": "old-secret"]
        #expect(throws: ConfigError.self) { try HelpdeskConfiguration(yaml: "slack: {}", file: "t.yaml", environment: environment) }
        #expect(throws: ConfigError.self) {
            try HelpdeskConfiguration(yaml: "slack: {previous_signing_secret_until: tomorrow}", file: "t.yaml", environment: environment)
        }
        #expect(throws: ConfigError.self) {
            try HelpdeskConfiguration(yaml: "slack: {previous_signing_secret_until: \"2026-03-01T12:00:00Z\"}", file: "t.yaml",
                                      environment: ["SLACK_SIGNING_SECRET": "new-secret"])
        }
    }
}

@Suite struct ApprovalLinkRotationTests {
    static let oldKey = Secret("approval-link-key-old-0123456789")
    static let newKey = Secret("approval-link-key-new-0123456789")
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let expires = now.addingTimeInterval(3600)
    static let before = ApprovalLinks(keys: ApprovalKeyRing(current: .init(id: "k1", secret: oldKey)))
    static let rotated = ApprovalLinks(keys: ApprovalKeyRing(current: .init(id: "k2", secret: newKey), previous: .init(id: "k1", secret: oldKey)))
    static let finished = ApprovalLinks(keys: ApprovalKeyRing(current: .init(id: "k2", secret: newKey)))

    /// A token as links were made before key ids: `PAYLOAD.SIG`, HMAC over the payload alone.
    static func legacyToken(_ payload: String, key: Secret) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: SymmetricKey(data: Array(key.reveal().utf8)))
        return base64URL(Data(payload.utf8)) + "." + base64URL(Data(code))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test func newTokensCarryTheCurrentKeyIDAndVerify() throws {
        let token = Self.rotated.token(approvalID: "apr_1", approver: "alice", expires: Self.expires)
        #expect(token.hasPrefix("k2."))
        #expect(try Self.rotated.verify(token, approvalID: "apr_1", now: Self.now).approver == "alice")
        #expect(throws: ApprovalLinks.Refusal.forged) { try Self.before.verify(token, approvalID: "apr_1", now: Self.now) }
    }

    @Test func previousKeyTokensVerifyUntilTheyExpire() throws {
        let token = Self.before.token(approvalID: "apr_1", approver: "alice", expires: Self.expires)
        #expect(token.hasPrefix("k1."))
        #expect(try Self.rotated.verify(token, approvalID: "apr_1", now: Self.now).approver == "alice")
        #expect(throws: ApprovalLinks.Refusal.expired) { try Self.rotated.verify(token, approvalID: "apr_1", now: Self.expires) }
        // Once the previous key is removed, its links are refused.
        #expect(throws: ApprovalLinks.Refusal.forged) { try Self.finished.verify(token, approvalID: "apr_1", now: Self.now) }
    }

    @Test func unknownOrSwappedKeyIDIsForged() {
        let token = Self.before.token(approvalID: "apr_1", approver: "alice", expires: Self.expires)
        let unknown = "k9" + token.dropFirst(2)
        #expect(throws: ApprovalLinks.Refusal.forged) { try Self.rotated.verify(unknown, approvalID: "apr_1", now: Self.now) }
        // The key id is signed: relabelling a k1 token as k2 does not make the k2 key accept it.
        let relabelled = "k2" + token.dropFirst(2)
        #expect(throws: ApprovalLinks.Refusal.forged) { try Self.rotated.verify(relabelled, approvalID: "apr_1", now: Self.now) }
    }

    @Test func oldFormatTokensVerifyAgainstTheCurrentKey() throws {
        let payload = "apr_1|alice|\(Int64(Self.expires.timeIntervalSince1970))"
        let legacy = Self.legacyToken(payload, key: Self.newKey)
        #expect(try Self.rotated.verify(legacy, approvalID: "apr_1", now: Self.now).approver == "alice")
        #expect(try ApprovalLinks(key: Self.newKey).verify(legacy, approvalID: "apr_1", now: Self.now).approver == "alice")
        #expect(throws: ApprovalLinks.Refusal.expired) { try Self.rotated.verify(legacy, approvalID: "apr_1", now: Self.expires) }
        // Old-format tokens name no key, so they never reach the previous one.
        let underOld = Self.legacyToken(payload, key: Self.oldKey)
        #expect(throws: ApprovalLinks.Refusal.forged) { try Self.rotated.verify(underOld, approvalID: "apr_1", now: Self.now) }
    }

    @Test func csrfFollowsTheTokensKey() {
        let old = Self.before.token(approvalID: "apr_1", approver: "alice", expires: Self.expires)
        let csrf = Self.rotated.csrf(for: old)
        #expect(csrf == Self.before.csrf(for: old), "signed with the key the token names, k1")
        #expect(Self.rotated.verifyCSRF(csrf, token: old))
        #expect(!Self.finished.verifyCSRF(csrf, token: old), "no CSRF passes for a key no longer held")
        let unknown = "k9" + old.dropFirst(2)
        #expect(!Self.rotated.verifyCSRF(Self.rotated.csrf(for: unknown), token: unknown))
    }

    @Test func keyIDsAreReadAndCheckedAtLoad() throws {
        let yaml = "approvals: {link_key_id: k2, previous_link_key_id: k1}"
        let environment = ["HELPDESK_APPROVALS_LINK_KEY": "new-link-key", "HELPDESK_APPROVALS_PREVIOUS_LINK_KEY": "old-link-key"]
        let configuration = try HelpdeskConfiguration(yaml: yaml, file: "t.yaml", environment: environment)
        let keys = try #require(ApprovalKeyRing(configuration.approvals))
        #expect(keys.current.id == "k2" && keys.previous?.id == "k1")
        #expect(try HelpdeskConfiguration(yaml: "", file: "t.yaml", environment: ["HELPDESK_APPROVALS_LINK_KEY": "k"]).approvals.linkKeyID == "k1")
        for bad in ["approvals: {link_key_id: k2}", "approvals: {link_key_id: k2, previous_link_key_id: x2}",
                    "approvals: {link_key_id: \"k.2\", previous_link_key_id: k1}"] {
            #expect(throws: ConfigError.self, "\(bad)") { try HelpdeskConfiguration(yaml: bad, file: "t.yaml", environment: environment) }
        }
    }
}

@Suite struct ReplyAddressRotationTests {
    static let oldKey = Secret("approval-link-key-old-0123456789")
    static let newKey = Secret("approval-link-key-new-0123456789")
    static let before = ApprovalReplyAddress(keys: ApprovalKeyRing(current: .init(id: "k1", secret: oldKey)), domain: "r.example.org")
    static let rotated = ApprovalReplyAddress(keys: ApprovalKeyRing(current: .init(id: "k2", secret: newKey), previous: .init(id: "k1", secret: oldKey)),
                                              domain: "r.example.org")

    func token(_ address: String, with addresses: ApprovalReplyAddress) throws -> String {
        try #require(addresses.parse(address)).token
    }

    @Test func addressesCarryTheKeyPrefixAndStayShort() throws {
        let address = Self.rotated.address(approvalID: "apr_0123456789abcdef", approver: "alice")
        let token = try token(address, with: Self.rotated)
        #expect(token.count == 27 && token.first == "2")
        #expect(address.split(separator: "@")[0].count <= 64)
        #expect(Self.rotated.approver(for: token, approvalID: "apr_0123456789abcdef", candidates: ["bob", "alice"]) == "alice")
    }

    @Test func previousKeyAddressesStillDecide() throws {
        let token = try token(Self.before.address(approvalID: "apr_1", approver: "alice"), with: Self.before)
        #expect(token.first == "1")
        #expect(Self.rotated.approver(for: token, approvalID: "apr_1", candidates: ["bob", "alice"]) == "alice")
        #expect(Self.rotated.approver(for: token, approvalID: "apr_2", candidates: ["bob", "alice"]) == nil)
        let unknown = "9" + token.dropFirst()
        #expect(Self.rotated.approver(for: unknown, approvalID: "apr_1", candidates: ["alice"]) == nil)
    }

    @Test func oldFormatAddressesVerifyAgainstTheCurrentKey() {
        let code = HMAC<SHA256>.authenticationCode(for: Data("reply|apr_1|alice".utf8), using: SymmetricKey(data: Array(Self.newKey.reveal().utf8)))
        let legacy = base32(Data(code).prefix(16))
        #expect(legacy.count == 26)
        #expect(Self.rotated.approver(for: legacy, approvalID: "apr_1", candidates: ["bob", "alice"]) == "alice")
        #expect(Self.before.approver(for: legacy, approvalID: "apr_1", candidates: ["bob", "alice"]) == nil)
    }

    func base32(_ data: Data) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var output = "", buffer = 0, bits = 0
        for byte in data {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return output
    }
}
