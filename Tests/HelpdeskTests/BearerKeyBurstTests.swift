import Foundation
import HelpdeskCore
@testable import HelpdeskServer
import HelpdeskTestSupport
import Testing

/// Bursts of keys that need an Argon2id check: one address gets one check at a time and at most five
/// failures a minute however many requests it sends at once; a check nobody waits for costs nothing.
@Suite struct BearerKeyBurstTests {
    @Test func admittingACheckAndTakingItsPlaceIsOneStep() {
        let window = SourceFailureWindow(limit: 5, window: 60)
        guard case .granted(let first) = window.reserve("s", now: 1000) else {
            Issue.record("the first check was not admitted")
            return
        }
        #expect(window.reserve("s", now: 1000) == .checking, "one check in flight per source")
        if case .granted = window.reserve("t", now: 1000) {} else { Issue.record("another source is not affected") }
        window.finish(first, failed: true, now: 1001)
        window.finish(first, failed: true, now: 1002)  // finishing twice counts once
        for second in 2...4 {
            guard case .granted(let reservation) = window.reserve("s", now: 1000 + Double(second)) else {
                Issue.record("check \(second) was not admitted")
                return
            }
            window.finish(reservation, failed: true, now: 1000 + Double(second))
        }
        // Four failures: the check in flight is the fifth, so nothing more is admitted while it runs.
        guard case .granted(let fifth) = window.reserve("s", now: 1010) else {
            Issue.record("the fifth check was not admitted")
            return
        }
        #expect(window.reserve("s", now: 1010) == .checking)
        window.finish(fifth, failed: true, now: 1010)
        #expect(window.reserve("s", now: 1010) == .limited(retryAfter: 51), "the oldest failure (1001) leaves at 1061")
        #expect(window.retryAfter("s", now: 1010) == 51)
    }

    @Test func aSuccessfulCheckGivesItsPlaceBackUncounted() {
        let window = SourceFailureWindow(limit: 1, window: 60)
        for _ in 0..<3 {
            guard case .granted(let reservation) = window.reserve("s", now: 1000) else {
                Issue.record("a source whose checks succeed was refused")
                return
            }
            window.finish(reservation, failed: false, now: 1000)
        }
        #expect(window.retryAfter("s", now: 1000) == nil)
    }

    @Test func aSecondKeyFromTheSameAddressWhileOneIsQueuedIsRefusedAtOnceWithoutHashing() async throws {
        let pool = HashWorkerPool(threads: 1, queueLimit: 16, maxWait: .seconds(600), idleTimeout: 5)  // queued work never expires here
        let verifier = BearerKeyVerifier(pool: pool)
        let credentials = try BearerKeyTests.credentials()
        let release = DispatchSemaphore(value: 0)
        let holder = await HashWorkerPoolTests.hold(pool, until: release)
        let wrong = Array("wrong-key-0".utf8)
        let first = Task { await verifier.verify(wrong, source: "10.0.0.9", against: credentials) }
        #expect(await eventually { pool.waiting == 1 })
        for attempt in 1...10 {
            let outcome = await verifier.verify(Array("wrong-key-\(attempt)".utf8), source: "10.0.0.9", against: credentials)
            #expect(outcome == .throttled(retryAfter: 1))
        }
        #expect(pool.waiting == 1, "the burst queued nothing")
        let valid = Array(BearerKeyTests.accountKey.utf8)
        let other = Task { await verifier.verify(valid, source: "10.0.0.10", against: credentials) }
        #expect(await eventually { pool.waiting == 2 }, "another address gets its own check")
        release.signal()
        _ = await holder.value
        #expect(await first.value == .rejected)
        #expect(await other.value == .accepted(principal: "service:ci-runner"))
        #expect(pool.jobsStarted == 3, "the holder, the first key and the other address's: the burst hashed nothing")
    }

    @Test func thirtyConcurrentWrongKeysFromOneAddressCostAtMostFiveChecks() async throws {
        let pool = HashWorkerPool(threads: 2, queueLimit: 16, idleTimeout: 5)
        let verifier = BearerKeyVerifier(pool: pool)
        let credentials = try BearerKeyTests.credentials()
        let outcomes = await withTaskGroup(of: BearerKeyVerifier.Outcome.self) { group in
            for attempt in 0..<30 {
                group.addTask { await verifier.verify(Array("wrong-key-\(attempt)".utf8), source: "10.0.0.7", against: credentials) }
            }
            var outcomes: [BearerKeyVerifier.Outcome] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        let rejected = outcomes.filter { $0 == .rejected }.count
        let throttled = outcomes.filter { outcome in
            if case .throttled = outcome { return true }
            return false
        }.count
        #expect((1...5).contains(rejected), "\(outcomes)")
        #expect(rejected + throttled == 30, "nothing else: no 503, \(outcomes)")
        #expect(pool.jobsStarted == rejected, "one Argon2id pass per 401, none per 429")
    }

    @Test func aKeyCheckItsCallerLeftCostsNothingAndShutdownAnswersTheQueue() async throws {
        let pool = HashWorkerPool(threads: 1, queueLimit: 16, idleTimeout: 5)
        let verifier = BearerKeyVerifier(pool: pool)
        let credentials = try BearerKeyTests.credentials()
        let release = DispatchSemaphore(value: 0)
        let holder = await HashWorkerPoolTests.hold(pool, until: release)
        let wrong = Array("wrong-key".utf8)
        let left = Task { await verifier.verify(wrong, source: "10.0.0.9", against: credentials) }
        #expect(await eventually { pool.waiting == 1 })
        left.cancel()
        #expect(await left.value == .busy(retryAfter: 5, reason: .cancelled))
        // Its place was given back uncounted: the same address is admitted again.
        let valid = Array(BearerKeyTests.accountKey.utf8)
        let queued = Task { await verifier.verify(valid, source: "10.0.0.9", against: credentials) }
        #expect(await eventually { pool.waiting == 1 })
        verifier.shutdown()
        #expect(await queued.value == .busy(retryAfter: 5, reason: .shutDown), "answered while the thread is still busy")
        release.signal()
        _ = await holder.value
        #expect(pool.jobsStarted == 1, "only the holder ran")
    }
}
