import Foundation
import HelpdeskContent
import HelpdeskCore
import HelpdeskJobs
import HelpdeskStore
import Logging
import Metrics
import ServiceLifecycle
import UnixSignals

/// Runs approved actions: the job the deciding vote enqueued, once per approval.
public struct ApprovalExecutionJob: JobHandler {
    let governance: Governance

    public init(governance: Governance) {
        self.governance = governance
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        guard let id = (try? JSONDecoder().decode(ApprovalExecution.self, from: Data(job.payload.utf8)))?.approvalID else {
            throw JobFailure.permanent("approval.execute payload has no approval_id")
        }
        let result = try await LogCorrelation.with(.approvalID, id) {
            try await governance.executeApproved(id, retryingAfterInterruption: job.attempt > 1)
        }
        logger.info("approved action finished", metadata: ["approval_id": "\(id)"])
        return JobOutcome(result: String(result.jsonText.prefix(500)))
    }
}

/// Expires approval requests nobody decided in time (they fail closed: nothing runs).
public struct ApprovalExpiryService: Service {
    let store: any Store
    let interval: Duration
    let notifiers: [any ApprovalNotifier]
    let logger: Logger

    public init(store: any Store, interval: Duration = .seconds(15), notifiers: [any ApprovalNotifier] = [], logger: Logger) {
        self.store = store
        self.interval = interval
        self.notifiers = notifiers
        self.logger = logger
    }

    public func run() async throws {
        // One replica sweeps at a time; the others take over when it stops renewing.
        let turn = SingletonTurn(store: store, name: "approval-expiry", duration: max(interval * 4, .seconds(60)))
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                guard try await turn.holds() else { throw CancellationError() }
                for record in try await store.approvals.expire(now: Date()) {
                    Governance.countApproval("expired")
                    logger.notice("approval request expired; nothing will run", metadata: ["approval": "\(record.id)"])
                    for notifier in notifiers {
                        try await store.apply(notifier.decided(record, summary: "expired at \(record.expiresAt.formatted(.iso8601)) without a decision; nothing ran"))
                    }
                }
            } catch is CancellationError {
                // another replica holds the sweep
            } catch {
                logger.error("cannot expire approval requests", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        // Given up before the store closes, so another replica takes over now rather than at expiry.
        await turn.release()
    }
}

/// Reloads the policy files when they change (checked every few seconds) or on SIGHUP, through one
/// ``PolicyReloader`` so the two never load side by side. A file that does not load leaves the
/// previous policies in force, says so in the log, and counts a failed reload in
/// `helpdesk_policy_reloads_total{outcome="failed"}` (``MetricCatalog/policyReloads``). With neither `policies.file` nor `policies.dir`
/// the built-in policies never change, and SIGHUP reloads them harmlessly (instead of ending the process).
public struct PolicyWatcher: Service {
    let reloader: PolicyReloader
    let interval: Duration
    let metrics: any MetricsFactory

    /// - Parameters:
    ///   - knownTools: every tool name the server has, to warn of policies naming none of them.
    ///   - recorder: writes each installed reload to the audit log (`policy_reloaded`, with the probes it widened).
    public init(content: ContentLibrary, policies: PolicySet, interval: Duration = .seconds(2), knownTools: Set<String>? = nil,
                logger: Logger, metrics: any MetricsFactory, recorder: PolicyReloadRecorder? = nil) {
        let reloader = PolicyReloader(content: content, policies: policies, knownTools: knownTools, logger: logger, metrics: metrics,
                                      recorder: recorder)
        self.init(reloader: reloader, interval: interval, metrics: metrics)
    }

    public init(reloader: PolicyReloader, interval: Duration = .seconds(2), metrics: any MetricsFactory) {
        self.reloader = reloader
        self.interval = interval
        self.metrics = metrics
    }

    public func run() async throws {
        // Trap SIGHUP first: untrapped, it ends the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await reloader.recordFilesInForce()
        Gauge(label: MetricCatalog.policyValid.name, factory: metrics).record(1)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups {
                    await reloader.reload(reason: "SIGHUP")
                }
            }
            group.addTask {
                while !Task.isShuttingDownGracefully, !Task.isCancelled {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                    await reloader.reload(reason: "files changed", ifChanged: true)
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
