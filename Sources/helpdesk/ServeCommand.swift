import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskServer
import HelpdeskStore
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the webhook server and its job workers.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Address to listen on, HOST:PORT (overrides server.listen; default 127.0.0.1:8080).")
    var listen: String?

    func run() async throws {
        var configuration = try global.loadConfiguration()
        if let listen {
            guard let address = ListenAddress(parsing: listen) else {
                printError("--listen: expected HOST:PORT such as 127.0.0.1:8080, got \"\(listen)\"")
                throw ExitCode(2)
            }
            configuration.server.listen = address
        }
        // Before the store is opened (and migrated): a broken override is a deploy-time error.
        _ = try checkContent(configuration)
        let (logger, redactor) = global.bootstrapLogging(configuration)
        for warning in configuration.warnings { logger.warning("configuration: \(warning)") }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory.helpdesk(registry: registry))
        let tracing: (any Service)?
        do {
            tracing = try TracingBootstrap.start(configuration.tracing, logger: logger)
        } catch {
            printError("tracing: cannot start the OTLP exporter: \(error)")
            throw ExitCode(2)
        }
        let path = configuration.store.displayLocation
        let store = try await openStore(configuration, changes: configuration.store.migrateOnStart ? .migrate : .refuse) { before in
            // Said before it starts: a table rebuild on a large store takes seconds to minutes, the file locked.
            guard before.version > 0 else {
                logger.info("creating the store's schema \(before.latestDescription)", metadata: ["path": "\(path)"])
                return
            }
            logger.notice("migrating the store from \(before.versionDescription) to \(before.latestDescription) (this may take a while)…",
                          metadata: ["path": "\(path)", "pending": "\(before.pending.joined(separator: ", "))"])
        }
        logger.info("store open", metadata: ["store": "\(store.location)", "config": "\(configuration.file ?? "built-in defaults")",
                                             "version": "\(BuildInfo.summary)", "schema": "\(store.migration.after.version)"])
        if !store.migration.applied.isEmpty {
            logger.notice("\(MigrateCommand.describe(store.migration, path: store.location))")
        }
        do {
            try await HelpdeskServer.run(configuration: configuration, store: store, registry: registry, redactor: redactor,
                                         environment: ProcessInfo.processInfo.environment, logger: logger, build: BuildInfo.labels,
                                         telemetry: tracing.map { [$0] } ?? [])
        } catch let error as ServerError {
            if case .invalidContent(let problems) = error {
                for problem in problems { printError(problem.description) }
                throw ExitCode(2)
            }
            printError(error.description)
            if case .invalidRunbooks = error { throw ExitCode(2) }
            throw ExitCode(1)
        }
    }
}
