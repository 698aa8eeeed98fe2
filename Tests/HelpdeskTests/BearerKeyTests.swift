import Crypto
import Foundation
import HelpdeskAgents
import HelpdeskConfig
@testable import HelpdeskCore
import HelpdeskGovernance
@testable import HelpdeskServer
import HelpdeskStore
import HelpdeskTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// Bearer keys: tokens in every form and service accounts, checked in a fixed order at a bounded cost.
@Suite struct BearerKeyTests {
    static let accountKey = "ci-runner-key-0123456789"

    /// Cheap parameters (8 KiB, one pass): these tests check the order of the checks, not Argon2id's cost.
    static func quickHash(_ key: String) throws -> Argon2idHash {
        try Argon2idHash(encoded: Argon2idHash.make(secret: Array(key.utf8), salt: randomBytes(count: 16), memoryKiB: 8,
                                                    iterations: 1, parallelism: 1, length: 32))
    }

    static func credentials() throws -> BearerCredentials {
        BearerCredentials(
            tokens: [
                APISettings.Token(principal: "ops", credential: .plaintext(Secret("plain-token-0123456789"))),
                APISettings.Token(principal: "reports", credential: .sha256(Array(SHA256.hash(data: Array("sha-token-0123456789".utf8))))),
                APISettings.Token(principal: "exports", credential: .argon2id(try quickHash("argon-token-0123456789"))),
            ],
            accounts: [UserDirectory.ServiceAccount(id: "ci-runner", roles: ["ci-readonly"], keyHash: try quickHash(accountKey))])
    }

    private func key(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func everyFormOfTokenAndAServiceAccountIsAccepted() async throws {
        let verifier = BearerKeyVerifier()
        let credentials = try Self.credentials()
        #expect(await verifier.verify(key("plain-token-0123456789"), source: "a", against: credentials) == .accepted(principal: "ops"))
        #expect(await verifier.verify(key("sha-token-0123456789"), source: "a", against: credentials) == .accepted(principal: "reports"))
        #expect(await verifier.verify(key("argon-token-0123456789"), source: "a", against: credentials) == .accepted(principal: "exports"))
        #expect(await verifier.verify(key(Self.accountKey), source: "a", against: credentials) == .accepted(principal: "service:ci-runner"))
        #expect(await verifier.verify(key("plain-token-012345678"), source: "a", against: credentials) == .rejected)
    }

    @Test func plaintextAndSha256TokensAreMatchedWithoutHashing() async throws {
        let pool = HashWorkerPool(threads: 1, queueLimit: 0)  // any Argon2id check would be refused as busy
        let verifier = BearerKeyVerifier(pool: pool)
        let credentials = try Self.credentials()
        #expect(await verifier.verify(key("plain-token-0123456789"), source: "a", against: credentials) == .accepted(principal: "ops"))
        #expect(await verifier.verify(key("sha-token-0123456789"), source: "a", against: credentials) == .accepted(principal: "reports"))
        #expect(pool.jobsStarted == 0)
        #expect(await verifier.verify(key("not-a-token"), source: "a", against: credentials) == .busy(retryAfter: 1))
    }

    @Test func aKeyThatPassedOnceIsNotHashedAgain() async throws {
        let pool = HashWorkerPool(threads: 2, queueLimit: 16)
        let verifier = BearerKeyVerifier(pool: pool)
        let credentials = try Self.credentials()
        #expect(await verifier.verify(key(Self.accountKey), source: "a", against: credentials) == .accepted(principal: "service:ci-runner"))
        #expect(pool.jobsStarted == 1)
        #expect(await verifier.verify(key(Self.accountKey), source: "b", against: credentials) == .accepted(principal: "service:ci-runner"))
        #expect(pool.jobsStarted == 1, "the second request is answered from the cache")
        // Credentials without that account: the cached success does not count.
        let without = BearerCredentials(tokens: [], accounts: [
            UserDirectory.ServiceAccount(id: "other", keyHash: try Self.quickHash("other-key-0123456789"))])
        #expect(await verifier.verify(key(Self.accountKey), source: "a", against: without) == .rejected)
    }

    @Test func afterFiveFailuresASourceIsRefusedWithoutHashingUntilTheMinuteIsOver() async throws {
        let window = SourceFailureWindow(limit: 5, window: 60)
        let verifier = BearerKeyVerifier(failures: window)
        let credentials = try Self.credentials()
        for _ in 0..<5 {
            #expect(await verifier.verify(key("wrong-key"), source: "10.0.0.7", against: credentials) == .rejected)
        }
        guard case .throttled(let seconds) = await verifier.verify(key(Self.accountKey), source: "10.0.0.7", against: credentials) else {
            Issue.record("a sixth check from the same source was not throttled")
            return
        }
        #expect((1...60).contains(seconds))
        #expect(await verifier.verify(key("plain-token-0123456789"), source: "10.0.0.7", against: credentials) == .accepted(principal: "ops"),
                "tokens that need no hashing still pass")
        #expect(await verifier.verify(key(Self.accountKey), source: "10.0.0.8", against: credentials) == .accepted(principal: "service:ci-runner"),
                "another source is not affected")

        // The refusal comes before the pool: a pool that refuses everything is never asked.
        let refusing = BearerKeyVerifier(pool: HashWorkerPool(threads: 1, queueLimit: 0), failures: window)
        guard case .throttled = await refusing.verify(key("another-wrong-key"), source: "10.0.0.7", against: credentials) else {
            Issue.record("expected throttled before any hashing")
            return
        }
    }

    @Test func theFailureWindowForgetsFailuresOlderThanAMinute() {
        let window = SourceFailureWindow(limit: 5, window: 60)
        for second in 0..<5 { window.record("s", now: 1000 + Double(second)) }
        #expect(window.retryAfter("s", now: 1010) == 50)
        #expect(window.retryAfter("s", now: 1059.5) == 0.5)
        #expect(window.retryAfter("s", now: 1060) == nil, "the first failure left the window")
        #expect(window.retryAfter("other", now: 1010) == nil)
    }

    @Test func blockedPoolThreadsLeaveTheCooperativePoolFree() async throws {
        let pool = HashWorkerPool(threads: 2, queueLimit: 2, idleTimeout: 5)
        // Waited for without blocking: a semaphore wait would itself hold a cooperative thread.
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        let release = DispatchSemaphore(value: 0)
        let jobs = (0..<2).map { _ in Task { await pool.run { signal.yield(); release.wait(); return true } } }
        var running = 0
        for await _ in started { running += 1; if running == 2 { break } }
        // Both pool threads are blocked; tasks still run (with as many cores as this machine has).
        let answers = await withTaskGroup(of: Int.self) { group in
            for value in 0..<8 { group.addTask { value } }
            return await group.reduce(0, +)
        }
        #expect(answers == 28)
        for _ in 0..<2 { release.signal() }
        for job in jobs { #expect(await job.value == .success(true)) }
    }

    @Test func thePoolRefusesBeyondItsQueue() async throws {
        let pool = HashWorkerPool(threads: 1, queueLimit: 1, maxWait: .seconds(600), idleTimeout: 5)  // queued work never expires here
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        let release = DispatchSemaphore(value: 0)
        let first = Task { await pool.run { signal.yield(); release.wait(); return 1 } }
        for await _ in started { break }  // the only thread is busy now
        let second = Task { await pool.run { 2 } }
        #expect(await eventually { pool.waiting == 1 })
        #expect(await pool.run { 3 } == .failure(.full), "one waiting is the limit: the next is refused at once")
        release.signal()
        #expect(await first.value == .success(1))
        #expect(await second.value == .success(2))
    }

    @Test func theServerAndHashKeyTrimTheSameWhitespace() {
        #expect(BearerKeyText.trimmed("\u{00A0}\u{3000} k3y\t") == "k3y", "Unicode spaces and tabs at the ends")
        #expect(BearerKeyText.trimmed("k 3y") == "k 3y", "inside, a space is part of the key")
        #expect(BearerKeyText.trimmed("k3y\n") == "k3y\n", "a line end is not trimmed: hash-key refuses it as a control character")
    }

    // MARK: Through the router

    private func dependencies(_ harness: APITests.Harness, accounts: [UserDirectory.ServiceAccount]) -> ServerDependencies {
        var dependencies = harness.dependencies
        dependencies.api = APISettings()
        dependencies.directory.serviceAccounts = accounts
        return dependencies
    }

    @Test func aServiceAccountAloneTurnsTheAPIOnAndActsAsServiceID() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        let account = UserDirectory.ServiceAccount(id: "ci-runner", roles: ["ci-readonly"], keyHash: try Self.quickHash(Self.accountKey))
        try await Application(router: buildRouter(dependencies(harness, accounts: [account]))).test(.router) { client in
            let accepted = try await client.execute(uri: "/api/v1/incidents", method: .get,
                                                    headers: [.authorization: "Bearer \(Self.accountKey)"])
            #expect(accepted.status == .ok)
            let wrong = try await client.execute(uri: "/api/v1/incidents", method: .get, headers: [.authorization: "Bearer nope"])
            #expect(wrong.status == .unauthorized)
            #expect(String(buffer: wrong.body).contains("the bearer token is not valid"), "the API is on: no 'the API is off'")
        }
        let received = try await harness.store.audit.events(since: nil, limit: 100).filter { $0.kind == "request_received" }
        #expect(received.map(\.principal) == ["service:ci-runner"])
    }

    @Test func fiveFailedKeysFromOneAddressThenTooManyRequestsAtOnce() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        let account = UserDirectory.ServiceAccount(id: "ci-runner", keyHash: try Self.quickHash(Self.accountKey))
        try await Application(router: buildRouter(dependencies(harness, accounts: [account]))).test(.router) { client in
            for _ in 0..<5 {
                let response = try await client.execute(uri: "/api/v1/agents", method: .get, headers: [.authorization: "Bearer wrong-key"])
                #expect(response.status == .unauthorized)
            }
            let refused = try await client.execute(uri: "/api/v1/agents", method: .get, headers: [.authorization: "Bearer \(Self.accountKey)"])
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter].flatMap(Int.init).map { (1...60).contains($0) } == true)
            #expect(String(buffer: refused.body).contains("too_many_failed_keys"))
        }
    }

    @Test func withNoTokenAndNoAccountTheAPIIsOff() async throws {
        let harness = try APITests.Harness()
        defer { harness.folder.remove() }
        try await Application(router: buildRouter(dependencies(harness, accounts: []))).test(.router) { client in
            let response = try await client.execute(uri: "/api/v1/agents", method: .get, headers: [.authorization: "Bearer anything"])
            #expect(response.status == .unauthorized)
            #expect(String(buffer: response.body).contains("the API is off"))
        }
    }

    @Test func governanceGivesAServiceAccountTheRolesOfItsEntry() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        var directory = UserDirectory()
        directory.serviceAccounts = [UserDirectory.ServiceAccount(id: "ci-runner", roles: ["ci-readonly"], keyHash: try Self.quickHash("k"))]
        let governance = Governance(policies: PolicySet(PolicyEngine(policies: [])), store: store, agents: [], inventory: Infrastructure(),
                                    directory: directory, redactor: Redactor(), defaultTTL: .seconds(60), toolTimeout: .seconds(5),
                                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        #expect(governance.principal(named: "service:ci-runner") == Principal(id: "ci-runner", kind: .service, roles: ["ci-readonly"]))
        #expect(governance.principal(named: "service:srebot") == Principal.alertBot)
        #expect(governance.principal(named: "ci-runner") == Principal(id: "ci-runner"), "a person of that name is another principal")
    }
}
