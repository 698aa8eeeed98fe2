import HelpdeskConfig
import HelpdeskCore
import HelpdeskTestSupport
import Testing

/// `api.tokens`: a token as itself (environment or file) or only as a hash, exactly one form each.
@Suite struct APITokenSettingsTests {
    /// `echo -n sha-token-test-key-9e07 | sha256sum`
    static let sha256Hex = "9f665d181dc71652f582da06477ea3b2e689d82ff56110173e6c590cd3aaf3e2"
    /// `echo -n argon-token-test-key-5d1c | argon2 Tk8sW1qLz6Ue -id -t 3 -m 16 -p 4 -l 32 -e`
    static let argon2idHash = "$argon2id$v=19$m=65536,t=3,p=4$VGs4c1cxcUx6NlVl$VPe2+2mrA0az4zch563fyuaUYGEHReMgY5jQ77guGDw"

    private func issues(_ yaml: String, environment: [String: String] = [:]) -> [ConfigIssue] {
        configurationIssues(yaml, environment: environment)
    }

    @Test func hashedFormsLoadAndPlaintextStillDoes() throws {
        let configuration = try HelpdeskConfiguration(yaml: """
            api:
              tokens:
                reports:
                  token_sha256: \(Self.sha256Hex.uppercased())
                exports:
                  token_argon2id: "\(Self.argon2idHash)"
                ops: {}
            """, file: "test.yaml", environment: ["HELPDESK_API_OPS_TOKEN": "ops-token-0123456789"])
        let tokens = Dictionary(uniqueKeysWithValues: configuration.api.tokens.map { ($0.principal, $0.credential) })
        guard case .sha256(let digest)? = tokens["reports"] else {
            Issue.record("reports is not a token_sha256")
            return
        }
        #expect(digest.count == 32 && digest.first == 0x9F && digest.last == 0xE2)
        guard case .argon2id(let hash)? = tokens["exports"] else {
            Issue.record("exports is not a token_argon2id")
            return
        }
        #expect(hash.verify(Array("argon-token-test-key-5d1c".utf8)))
        guard case .plaintext(let secret)? = tokens["ops"] else {
            Issue.record("ops is not a plaintext token")
            return
        }
        #expect(secret.reveal() == "ops-token-0123456789")
        #expect(configuration.secrets.map { $0.reveal() } == ["ops-token-0123456789"], "hashes are no secrets to mask")
    }

    @Test func moreThanOneFormIsAnErrorNamingTheKeys() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let file = try folder.write("token", "file-token-0123456789\n")
        let found = issues("api:\n  tokens:\n    ops:\n      token_file: \(file)\n      token_sha256: \(Self.sha256Hex)\n")
        #expect(found.map(\.keyPath) == ["api.tokens.ops.token_sha256"])
        #expect(found.first?.line == 5)
        #expect(found.first?.message == "token_file and token_sha256 each give the token of ops; keep exactly one")
        let fromEnvironment = issues("api:\n  tokens:\n    ops:\n      token_argon2id: \"\(Self.argon2idHash)\"\n",
                                     environment: ["HELPDESK_API_OPS_TOKEN": "ops-token-0123456789"])
        #expect(fromEnvironment.first?.message == "HELPDESK_API_OPS_TOKEN and token_argon2id each give the token of ops; keep exactly one")
    }

    @Test func noFormIsAnErrorThatNamesEveryForm() {
        let found = issues("api:\n  tokens:\n    ops: {}\n")
        #expect(found.map(\.keyPath) == ["api.tokens.ops.token_file"])
        #expect(found.first?.message.contains("HELPDESK_API_OPS_TOKEN or token_file, or its hash as token_sha256 or token_argon2id") == true)
    }

    @Test(arguments: [
        ("token_sha256: 9f665d", "api.tokens.ops.token_sha256", "expected 64 hex digits"),
        ("token_sha256: \(String(repeating: "g", count: 64))", "api.tokens.ops.token_sha256", "expected 64 hex digits"),
        ("token_argon2id: \"$argon2id$v=19$m=65536,t=3,p=4$c2FsdGhlcmU$placeholder-replace-with-real-hash\"",
         "api.tokens.ops.token_argon2id", "not an Argon2id hash (the hash is a placeholder"),
        ("token_argon2id: \"$argon2id$v=19$m=1048576,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\"",
         "api.tokens.ops.token_argon2id", "m=1048576 is out of bounds"),
    ])
    func aMalformedHashIsAnErrorAtItsLine(line: String, keyPath: String, message: String) {
        let found = issues("api:\n  tokens:\n    ops:\n      \(line)\n")
        #expect(found.map(\.keyPath) == [keyPath])
        #expect(found.first?.line == 4)
        #expect(found.first?.message.contains(message) == true, "\(found)")
    }
}
