import Crypto
import Foundation
import HelpdeskConfig
import HelpdeskCore
import NIOConcurrencyHelpers

/// What a bearer key may match, prepared once from the configuration: `api.tokens` and the users
/// file's service accounts.
struct BearerCredentials: Sendable {
    struct Digest: Sendable {
        var principal: String
        var sha256: [UInt8]
    }

    struct Hashed: Sendable {
        var principal: String
        var hash: Argon2idHash
    }

    /// Plaintext tokens (kept as their SHA-256, so every comparison has the same length) and `token_sha256` tokens.
    let digests: [Digest]
    /// `token_argon2id` tokens and service accounts (as `service:ID`), in configuration order.
    let hashed: [Hashed]

    init(tokens: [APISettings.Token], accounts: [UserDirectory.ServiceAccount]) {
        var digests: [Digest] = []
        var hashed: [Hashed] = []
        for token in tokens {
            switch token.credential {
            case .plaintext(let secret): digests.append(Digest(principal: token.principal, sha256: sha256(Array(secret.reveal().utf8))))
            case .sha256(let bytes): digests.append(Digest(principal: token.principal, sha256: bytes))
            case .argon2id(let hash): hashed.append(Hashed(principal: token.principal, hash: hash))
            }
        }
        hashed += accounts.map { Hashed(principal: "service:\($0.id)", hash: $0.keyHash) }
        self.digests = digests
        self.hashed = hashed
    }

    /// No token and no service account: the API is off.
    var isEmpty: Bool { digests.isEmpty && hashed.isEmpty }
}

/// Decides whose a bearer key is at a bounded cost, in this order:
/// 1. a key that passed an Argon2id check before is found by its SHA-256 in a bounded cache;
/// 2. plaintext and `token_sha256` tokens: the key's SHA-256 against every digest, in constant time;
/// 3. Argon2id candidates (`token_argon2id` tokens, service accounts): refused without hashing when the
///    source failed ``SourceFailureWindow/limit`` checks in the last minute or has a check queued or
///    running (admitting a check and taking its place is one step, so a burst from one address gets one
///    check, not one each); otherwise one pass over the candidates on the ``HashWorkerPool`` (beyond its
///    wait queue, after waiting too long, or at shutdown: busy), stopping at the first match.
///
/// One per process, shared by every listener (as the rate limits are); the key is never logged or kept,
/// only its SHA-256 after a success.
final class BearerKeyVerifier: Sendable {
    enum Outcome: Sendable, Equatable {
        case accepted(principal: String)
        case rejected
        /// Too many failed checks from this source, or one of its checks is under way: retry after this many seconds.
        case throttled(retryAfter: Int)
        /// Not checked: every hashing place is taken (`full`), the check waited too long (`expired`), the
        /// server is stopping (`shutDown`) or the caller went away (`cancelled`, `abandoned`).
        case busy(retryAfter: Int, reason: HashPoolRefusal = .full)
    }

    /// Successes by the SHA-256 of their key; the oldest goes first when full.
    private struct SuccessCache {
        var principals: [[UInt8]: String] = [:]
        var order: [[UInt8]] = []
        let capacity: Int

        mutating func insert(_ digest: [UInt8], _ principal: String) {
            guard principals.updateValue(principal, forKey: digest) == nil else { return }
            order.append(digest)
            if order.count > capacity { principals[order.removeFirst()] = nil }
        }
    }

    private let pool: HashWorkerPool
    private let failures: SourceFailureWindow
    private let cache: NIOLockedValueBox<SuccessCache>

    init(pool: HashWorkerPool = HashWorkerPool(threads: 2, queueLimit: 16, maxWait: .seconds(10)),
         failures: SourceFailureWindow = SourceFailureWindow(limit: 5, window: 60), cacheSize: Int = 1024) {
        self.pool = pool
        self.failures = failures
        self.cache = NIOLockedValueBox(SuccessCache(capacity: max(1, cacheSize)))
    }

    func verify(_ key: [UInt8], source: String, against credentials: BearerCredentials) async -> Outcome {
        let digest = sha256(key)
        // A cached principal counts only while it is still one of the candidates.
        if let principal = cache.withLockedValue({ $0.principals[digest] }),
           credentials.hashed.contains(where: { $0.principal == principal }) {
            return .accepted(principal: principal)
        }
        // Every digest is compared, so the time taken does not say which one came close.
        var match: String?
        for candidate in credentials.digests where constantTimeEquals(candidate.sha256, digest) {
            match = candidate.principal
        }
        if let match { return .accepted(principal: match) }
        guard !credentials.hashed.isEmpty else {
            failures.record(source)
            return .rejected
        }
        let reservation: SourceFailureWindow.Reservation
        switch failures.reserve(source) {
        case .granted(let granted): reservation = granted
        case .limited(let wait): return .throttled(retryAfter: max(1, Int(min(wait, 3600).rounded(.up))))
        case .checking: return .throttled(retryAfter: 1)
        }
        let candidates = credentials.hashed
        // The job does its own bookkeeping, so a check whose caller went away still counts.
        let result = await pool.run { [cache = self.cache, failures = self.failures] () -> String? in
            let principal = candidates.first { $0.hash.verify(key) }?.principal
            if let principal { cache.withLockedValue { $0.insert(digest, principal) } }
            failures.finish(reservation, failed: principal == nil)
            return principal
        }
        switch result {
        case .success(let principal?):
            return .accepted(principal: principal)
        case .success(nil):
            return .rejected
        case .failure(let refusal):
            // A job that never ran gives its place back uncounted; an abandoned one finishes it itself.
            if !refusal.jobRan { failures.finish(reservation, failed: false) }
            return .busy(retryAfter: refusal == .full ? 1 : 5, reason: refusal)
        }
    }

    /// Runs other Argon2id work (a web sign-in's password check) on the key checks' threads, so the
    /// process never hashes on more threads, or with a longer queue, however the work arrives.
    func hash<Value: Sendable>(_ work: @escaping @Sendable () -> Value) async -> Result<Value, HashPoolRefusal> {
        await pool.run(work)
    }

    /// At shutdown: checks still waiting are answered busy at once instead of delaying the exit.
    func shutdown() {
        pool.shutdown()
    }
}

/// The SHA-256 of `bytes`.
private func sha256(_ bytes: [UInt8]) -> [UInt8] {
    Array(SHA256.hash(data: bytes))
}
