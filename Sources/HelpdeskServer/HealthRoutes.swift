import Foundation
import HelpdeskCore
import HelpdeskStore
import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus

/// `/healthz` (the process answers), `/readyz` (it can do its work) and `/metrics` (Prometheus).
struct HealthRoutes {
    let store: any Store
    let workerIsRunning: @Sendable () -> Bool
    let registry: PrometheusCollectorRegistry
    let metrics: any MetricsFactory

    struct Status: Encodable {
        var status: String
        var reasons: [String]?
    }

    func register(on router: Router<AppRequestContext>, surface: ListenerSurface = .all) {
        router.get("/healthz") { _, _ in
            jsonResponse(status: .ok, Status(status: "ok"))
        }
        guard surface.servesAdmin else { return }
        router.get("/readyz") { _, _ in
            await readiness()
        }
        router.get("/metrics") { _, context in
            await refreshJobGauges(context)
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            registry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }

    private func readiness() async -> Response {
        var reasons: [String] = []
        if let reason = await store.unhealthyReason() { reasons.append(reason) }
        if !workerIsRunning() { reasons.append("job worker is not running") }
        return reasons.isEmpty
            ? jsonResponse(status: .ok, Status(status: "ready"))
            : jsonResponse(status: .serviceUnavailable, Status(status: "not_ready", reasons: reasons))
    }

    /// Queue depth is read from the store at scrape time, so it counts jobs of every process.
    private func refreshJobGauges(_ context: AppRequestContext) async {
        do {
            let stats = try await store.jobs.stats(now: Date())
            for (state, count) in stats.counts {
                Gauge(label: MetricCatalog.jobs.name, dimensions: MetricCatalog.jobs.dimensions(state.rawValue), factory: metrics)
                    .record(count)
            }
            Gauge(label: MetricCatalog.jobsOldestDueAge.name, factory: metrics).record(stats.oldestDueAge)
        } catch {
            context.logger.warning("cannot read job statistics for /metrics", metadata: ["error": "\(error)"])
        }
    }
}
