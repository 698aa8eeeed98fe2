import Foundation
import HelpdeskCore
import HelpdeskStore
import Logging
import Metrics
import ServiceLifecycle

/// Sets the gauges read from the store: the outbox backlog and the storms open every `interval`
/// (15 s: a scrape never waits for them), and the audit chain's state every `chainInterval`
/// (`audit.chain_check_interval`, 5 minutes by default: a walk reads every event). Each replica
/// samples for its own `/metrics` (no lease): the values are the shared store's, the same on each.
/// The job queue's gauges are read at scrape time instead (HealthRoutes).
struct MetricsSampler: Service {
    let store: any Store
    let chain: AuditChainStatus
    let metrics: any MetricsFactory
    var interval = Duration.seconds(15)
    var chainInterval = Duration.seconds(300)
    let logger: Logger

    func run() async throws {
        var lastWalk: ContinuousClock.Instant?
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await sampleStore()
            if lastWalk.map({ ContinuousClock.now - $0 >= chainInterval }) ?? true {
                lastWalk = .now
                await checkChain()
            }
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: interval) })) != nil else { return }
        }
    }

    /// The outbox backlog and the storms open; a store that does not answer leaves the last values.
    func sampleStore() async {
        do {
            let pending = try await store.slackOutbox.pendingCount()
            let storms = try await store.storms.openCount()
            Gauge(label: MetricCatalog.outboxPending.name, factory: metrics).record(pending)
            Gauge(label: MetricCatalog.stormsOpen.name, factory: metrics).record(storms)
        } catch {
            logger.warning("cannot read the outbox backlog or the storms open for /metrics", metadata: ["error": "\(error)"])
        }
    }

    /// Walks the chain (or takes the audit view's walk, when it is recent enough) and sets its gauges.
    /// A failed walk leaves them as they were, so the checked timestamp goes stale.
    func checkChain() async {
        do {
            let result = try await chain.verify(store, maxAge: chainInterval)
            Gauge(label: MetricCatalog.auditChainOK.name, factory: metrics).record(result.ok ? 1 : 0)
            Gauge(label: MetricCatalog.auditChainChecked.name, factory: metrics).record(Date().timeIntervalSince1970)
            if !result.ok {
                logger.error("the audit chain does not verify: run `helpdesk audit verify`", metadata: [
                    "broken_at_seq": "\(result.brokenAt ?? 0)", "problem": "\(result.problem ?? "-")"])
            }
        } catch {
            logger.warning("cannot walk the audit chain for /metrics", metadata: ["error": "\(error)"])
        }
    }
}
