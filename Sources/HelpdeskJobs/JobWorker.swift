import Foundation
import HelpdeskCore
import HelpdeskHTTPClient
import HelpdeskStore
import Logging
import Tracing
import Metrics
import ServiceLifecycle
import Synchronization

/// Runs jobs from the durable queue: leases due jobs, runs each with its handler under a timeout
/// while renewing the lease, then records the outcome (done, retry with backoff, or dead-letter).
///
/// On graceful shutdown it stops leasing, lets running jobs finish for up to `shutdownGrace`, then
/// cancels the rest and gives their leases back, so another process takes them up at once.
public final class JobWorker: Service {
    public struct Options: Sendable {
        public var concurrency: Int
        public var lease: Duration
        public var pollInterval: Duration
        public var timeout: Duration
        public var retry: RetryPolicy
        public var shutdownGrace: Duration

        public init(concurrency: Int = 4, lease: Duration = .seconds(60), pollInterval: Duration = .milliseconds(250),
                    timeout: Duration = .seconds(300), retry: RetryPolicy = RetryPolicy(base: .seconds(2), max: .seconds(300)),
                    shutdownGrace: Duration = .seconds(10)) {
            self.concurrency = concurrency
            self.lease = lease
            self.pollInterval = pollInterval
            self.timeout = timeout
            self.retry = retry
            self.shutdownGrace = shutdownGrace
        }
    }

    /// Names this process in leases and job runs: host, pid and an instance id.
    public let owner: LeaseOwner
    /// Whether a pid on this host is running; injected so tests need no real processes.
    private let isAlive: @Sendable (Int32) -> Bool
    private let queue: any JobQueue
    private let handlers: [String: any JobHandler]
    private let options: Options
    private let logger: Logger
    private let redactor: Redactor
    private let metrics: any MetricsFactory
    private let running = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let inFlight = Atomic<Int>(0)
    private let slotFreed = WakeSignal()

    public init(queue: any JobQueue, handlers: [String: any JobHandler], options: Options, logger: Logger,
                redactor: Redactor, metrics: any MetricsFactory, owner: LeaseOwner = .thisProcess,
                isAlive: @escaping @Sendable (Int32) -> Bool = LeaseOwner.processIsRunning) {
        self.queue = queue
        self.handlers = handlers
        self.options = options
        self.logger = logger
        self.redactor = redactor
        self.metrics = metrics
        self.owner = owner
        self.isAlive = isAlive
    }

    /// True between the start of ``run()`` and its return; `/readyz` reports it.
    public var isRunning: Bool { running.load(ordering: .relaxed) }

    public func run() async throws {
        running.store(true, ordering: .relaxed)
        defer { running.store(false, ordering: .relaxed) }
        logger.info("job worker started", metadata: ["worker": "\(owner)", "concurrency": "\(options.concurrency)"])
        await reclaimOrphanedLeases()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                await leaseLoop(group: &group)
                await drainInFlight()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
            self.slotFreed.signal()
        }
        logger.info("job worker stopped", metadata: ["worker": "\(owner)"])
    }

    /// Takes back at once the leases of this host's processes that are gone (a crash, a restarted
    /// container), instead of leaving their work until the leases expire. On error, expiry still applies.
    private func reclaimOrphanedLeases() async {
        let reclaimed: [ReclaimedLease]
        do {
            reclaimed = try await queue.reclaimOrphanedLeases(seenFrom: owner, isAlive: isAlive, now: Date())
        } catch {
            logger.error("cannot take back the leases of stopped processes; they are taken up when they expire",
                         metadata: ["error": "\(error)"])
            return
        }
        Counter(label: MetricCatalog.jobLeaseReclaims.name, factory: metrics).increment(by: reclaimed.count)
        Counter(label: MetricCatalog.jobsDeadLettered.name, factory: metrics).increment(by: reclaimed.filter(\.deadLettered).count)
        guard !reclaimed.isEmpty else { return }
        let owners = Set(reclaimed.map { "\($0.owner.host):\($0.owner.pid)" }).sorted()
        logger.notice("took back job leases of stopped processes", metadata: [
            "jobs": "\(reclaimed.count)", "dead_lettered": "\(reclaimed.filter(\.deadLettered).count)",
            "previous_owners": "\(owners.prefix(10).joined(separator: ", "))"])
    }

    private var shouldStop: Bool { stopping.load(ordering: .relaxed) || Task.isCancelled }

    private func leaseLoop(group: inout DiscardingTaskGroup) async {
        while !shouldStop {
            let free = options.concurrency - inFlight.load(ordering: .relaxed)
            guard free > 0 else {
                await slotFreed.wait(timeout: options.pollInterval)
                continue
            }
            let jobs: [LeasedJob]
            do {
                jobs = try await queue.lease(owner: owner.description, limit: free, duration: options.lease, now: Date())
            } catch {
                logger.error("cannot lease jobs", metadata: ["error": "\(error)"])
                await slotFreed.wait(timeout: options.pollInterval)
                continue
            }
            if jobs.isEmpty {
                await queue.waitForWork(timeout: options.pollInterval)
                continue
            }
            for job in jobs {
                inFlight.add(1, ordering: .relaxed)
                group.addTask {
                    await self.execute(job)
                    self.inFlight.subtract(1, ordering: .relaxed)
                    self.slotFreed.signal()
                }
            }
        }
    }

    /// Waits up to the grace period for running jobs; whatever still runs is then cancelled.
    private func drainInFlight() async {
        let deadline = ContinuousClock.now + options.shutdownGrace
        while inFlight.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline, !Task.isCancelled {
            await slotFreed.wait(timeout: min(options.pollInterval, deadline - ContinuousClock.now))
        }
        let left = inFlight.load(ordering: .relaxed)
        if left > 0 {
            logger.warning("shutting down with jobs still running; giving their leases back", metadata: ["jobs": "\(left)"])
        }
    }

    // MARK: One job

    private func execute(_ job: LeasedJob) async {
        var logger = self.logger
        logger[metadataKey: "job_id"] = "\(job.id)"
        logger[metadataKey: "job_kind"] = "\(job.kind)"
        logger[metadataKey: "attempt"] = "\(job.attempt)"
        if let requestID = job.origin?.requestID { logger[metadataKey: "request_id"] = "\(requestID)" }
        let started = ContinuousClock.now
        let result: Result<JobOutcome, any Error>
        // What the run queues (its follow-up) continues from the job's span.
        var runOrigin = job.origin
        if let handler = handlers[job.kind] {
            // The run continues the request's trace and carries its id on to what it queues.
            let origin = job.origin ?? WorkOrigin()
            result = await origin.run {
                await withSpan("job \(job.kind)", ofKind: .consumer) { span in
                    runOrigin = WorkOrigin.current() ?? job.origin
                    span.attributes["helpdesk.job.id"] = Int(job.id)
                    span.attributes["helpdesk.job.kind"] = job.kind
                    span.attributes["helpdesk.job.attempt"] = job.attempt
                    let result = await runGuarded(job, handler: handler, logger: logger)
                    if case .failure = result { span.setStatus(SpanStatus(code: .error)) }
                    return result
                }
            }
        } else {
            result = .failure(JobFailure.noHandler(kind: job.kind))
        }
        Timer(label: MetricCatalog.jobDuration.name, dimensions: MetricCatalog.jobDuration.dimensions(job.kind), factory: metrics)
            .recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        await record(result, for: job, origin: runOrigin, logger: logger)
    }

    /// Runs the handler racing its timeout, while a sibling task keeps the lease alive.
    private func runGuarded(_ job: LeasedJob, handler: any JobHandler, logger: Logger) async -> Result<JobOutcome, any Error> {
        await withTaskGroup(of: Result<JobOutcome, any Error>?.self) { group in
            group.addTask {
                do { return .success(try await handler.run(job, logger: logger)) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: self.options.timeout)
                return Task.isCancelled ? nil : .failure(JobFailure.timedOut(self.options.timeout))
            }
            group.addTask {
                await self.keepLeased(job, logger: logger)
                return nil
            }
            var outcome: Result<JobOutcome, any Error>?
            while outcome == nil, let next = await group.next() {
                outcome = next
            }
            group.cancelAll()
            return outcome ?? .failure(CancellationError())
        }
    }

    private func keepLeased(_ job: LeasedJob, logger: Logger) async {
        let interval = options.lease / 3
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            do {
                let until = Date().addingTimeInterval(options.lease.seconds)
                if try await !queue.renew(job, until: until) {
                    logger.warning("lease was taken over; this run's result will be discarded")
                    return
                }
            } catch {
                logger.error("cannot renew lease", metadata: ["error": "\(error)"])
            }
        }
    }

    private func record(_ result: Result<JobOutcome, any Error>, for job: LeasedJob, origin: WorkOrigin?, logger: Logger) async {
        let now = Date()
        let outcome: String
        do {
            switch result {
            case .success(let value):
                // What the job queues continues its request and trace.
                var followUp = value.followUp
                if followUp.origin == nil { followUp.origin = origin }
                if try await queue.complete(job, result: value.result.map(redactor.redact), followUp: followUp, now: now) {
                    outcome = "done"
                    logger.debug("job done")
                } else {
                    outcome = "lease_lost"
                    logger.warning("job finished after its lease was taken over; result discarded")
                }
            case .failure(let error) where error is CancellationError || (Task.isCancelled && !(error is JobFailure)):
                try await queue.release(job, now: now)
                outcome = "released"
                logger.info("job released for another worker")
            case .failure(let error):
                let message = redactor.redact(String(describing: error))
                let retryAt: Date?
                if case JobFailure.permanent = error {
                    retryAt = nil
                } else {
                    retryAt = now.addingTimeInterval(options.retry.delay(afterAttempt: job.attempt, jitter: .random(in: 0...1)).seconds)
                }
                switch try await queue.fail(job, error: message, retryAt: retryAt, now: now) {
                case .willRetry(let at):
                    outcome = "retry"
                    logger.warning("job failed; will retry", metadata: ["error": "\(message)", "retry_at": "\(at)"])
                case .deadLettered:
                    outcome = "dead"
                    Counter(label: MetricCatalog.jobsDeadLettered.name, factory: metrics).increment()
                    logger.error("job failed for good; moved to the dead-letter state", metadata: ["error": "\(message)"])
                case .leaseLost:
                    outcome = "lease_lost"
                    logger.warning("job failed after its lease was taken over", metadata: ["error": "\(message)"])
                }
            }
        } catch {
            // The lease expires and another attempt runs; nothing is lost.
            outcome = "store_error"
            logger.error("cannot record the job's outcome; it runs again when its lease expires", metadata: ["error": "\(error)"])
        }
        Counter(label: MetricCatalog.jobsProcessed.name, dimensions: MetricCatalog.jobsProcessed.dimensions(job.kind, outcome), factory: metrics)
            .increment()
    }
}
