import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskJobs
import HelpdeskOrchestrator
import HelpdeskStore
import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Why `helpdesk serve` could not start or keep running, in words for the operator.
public enum ServerError: Error, CustomStringConvertible {
    case cannotListen(ListenAddress, reason: String)
    case invalidRunbooks(RunbookLoader.LoadError)

    public var description: String {
        switch self {
        case .cannotListen(let address, let reason): "cannot listen on \(address): \(reason)"
        case .invalidRunbooks(let error): "\(error)"
        }
    }
}

/// The `helpdesk serve` process: the store, the job worker and the HTTP server in one service group.
public enum HelpdeskServer {
    /// The job handlers this build knows.
    public static func jobHandlers() -> [String: any JobHandler] {
        [SelftestJob.kind: SelftestJob()]
    }

    public static func workerOptions(_ configuration: HelpdeskConfiguration) -> JobWorker.Options {
        let jobs = configuration.jobs
        return JobWorker.Options(
            concurrency: jobs.concurrency, lease: jobs.lease, pollInterval: jobs.pollInterval, timeout: jobs.timeout,
            retry: RetryPolicy(base: jobs.backoffBase, max: jobs.backoffMax), shutdownGrace: configuration.server.shutdownGrace)
    }

    /// Opens the store, starts the worker and the HTTP server, and returns after a graceful shutdown
    /// (SIGTERM or SIGINT) with the store closed.
    public static func run(configuration: HelpdeskConfiguration, store: any Store, registry: PrometheusCollectorRegistry,
                           redactor: Redactor, environment: [String: String], logger: Logger) async throws {
        let engine: DiagnosisEngine
        do {
            engine = try DiagnosisEngine(configuration: configuration, store: store, environment: environment, logger: logger)
        } catch {
            try? await store.close()
            throw ServerError.invalidRunbooks(error)
        }
        let worker = JobWorker(
            queue: store.jobs, handlers: jobHandlers(), options: workerOptions(configuration),
            logger: logger, redactor: redactor, metrics: PrometheusMetricsFactory(registry: registry))
        var dependencies = ServerDependencies(
            settings: configuration.server, store: store, workerIsRunning: { worker.isRunning },
            registry: registry, logger: logger)
        dependencies.engine = engine
        dependencies.api = configuration.api
        dependencies.toolTimeout = configuration.diagnosis.toolTimeout
        let http = HTTPService(
            application: buildApplication(dependencies),
            address: configuration.server.listen)
        // Shut down in reverse: stop taking requests first, then let the worker finish its jobs.
        let group = ServiceGroup(services: [worker, http], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        logger.info("stopped; store closed")
    }
}

/// Runs the HTTP application, turning a failed bind into ``ServerError/cannotListen(_:reason:)``.
struct HTTPService<App: ApplicationProtocol>: Service {
    let application: App
    let address: ListenAddress

    func run() async throws {
        do {
            try await application.run()
        } catch let error as IOError {
            throw ServerError.cannotListen(address, reason: String(cString: strerror(error.errnoCode)))
        }
    }
}
