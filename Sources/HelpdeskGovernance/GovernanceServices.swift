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
        let result = try await governance.executeApproved(id, retryingAfterInterruption: job.attempt > 1)
        logger.info("approved action finished", metadata: ["approval": "\(id)"])
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
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                for record in try await store.approvals.expire(now: Date()) {
                    logger.notice("approval request expired; nothing will run", metadata: ["approval": "\(record.id)"])
                    for notifier in notifiers {
                        try await store.apply(notifier.decided(record, summary: "expired at \(record.expiresAt.formatted(.iso8601)) without a decision; nothing ran"))
                    }
                }
            } catch {
                logger.error("cannot expire approval requests", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// Reloads the policy files when they change (checked every few seconds) or on SIGHUP. A file
/// that does not load leaves the previous policies in force, says so in the log, and counts a
/// failed reload in `helpdesk_policy_reloads_total{outcome="failed"}`. With no `policies.dir`
/// the built-in policies never change, and SIGHUP reloads them harmlessly (instead of ending the process).
public struct PolicyWatcher: Service {
    let content: ContentLibrary
    let policies: PolicySet
    let interval: Duration
    let logger: Logger
    let metrics: any MetricsFactory

    public init(content: ContentLibrary, policies: PolicySet, interval: Duration = .seconds(2), logger: Logger,
                metrics: any MetricsFactory) {
        self.content = content
        self.policies = policies
        self.interval = interval
        self.logger = logger
        self.metrics = metrics
    }

    public func run() async throws {
        let initial = fingerprint()
        Gauge(label: "helpdesk_policy_valid", factory: metrics).record(1)
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups {
                    self.reload(reason: "SIGHUP")
                }
            }
            group.addTask {
                var lastSeen = initial
                while !Task.isShuttingDownGracefully, !Task.isCancelled {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
                    let now = fingerprint()
                    if now != lastSeen {
                        lastSeen = now
                        reload(reason: "files changed")
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    func reload(reason: String) {
        do {
            let loaded = try PolicyLoader.load(from: content)
            policies.replace(with: PolicyEngine(policies: loaded))
            logger.notice("policies reloaded", metadata: ["reason": "\(reason)", "policies": "\(loaded.count)"])
            Counter(label: "helpdesk_policy_reloads_total", dimensions: [("outcome", "ok")], factory: metrics).increment()
            Gauge(label: "helpdesk_policy_valid", factory: metrics).record(1)
        } catch {
            logger.error("policy files are invalid; the previous policies stay in force", metadata: ["reason": "\(reason)", "errors": "\(error)"])
            Counter(label: "helpdesk_policy_reloads_total", dimensions: [("outcome", "failed")], factory: metrics).increment()
            Gauge(label: "helpdesk_policy_valid", factory: metrics).record(0)
        }
    }

    /// The policy files in force, each as its location and text: a change in any is a change.
    /// Comparing contents rather than modification times also sees a Kubernetes ConfigMap update,
    /// which swaps a symbolic link and leaves the files' own times alone.
    private func fingerprint() -> [String] {
        do {
            return try content.files(.policies).flatMap { [$0.location, $0.text] }
        } catch {
            return ["unreadable", "\(error)"]
        }
    }
}
