import Foundation
import HelpdeskConfig
import HelpdeskCore
import Logging
import OTel
import ServiceLifecycle

/// Starts span export when `tracing.otlp_endpoint` is set: the tracer goes into the process-wide
/// instrumentation system and its exporter runs as a service beside the server (flushed last at
/// shutdown). Without an endpoint nothing is bootstrapped and every span is a no-op.
enum TracingBootstrap {
    static func start(_ settings: TracingSettings, logger: Logger) throws -> (any Service)? {
        guard let endpoint = settings.otlpEndpoint else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = settings.serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.endpoint = TracingSettings.tracesURL(endpoint)
        configuration.traces.otlpExporter.protocol = settings.wireFormat == .json ? .httpJSON : .httpProtobuf
        configuration.traces.sampler = settings.sampleRatio >= 1 ? .parentBasedAlwaysOn
            : (OTel.Configuration.TracesConfiguration.SamplerConfiguration.parentBasedTraceIDRatio(ratio: settings.sampleRatio) ?? .parentBasedAlwaysOn)
        // A collector that is down costs a shutdown at most this long (the store closes after the flush).
        configuration.traces.batchSpanProcessor.exportTimeout = .seconds(5)
        configuration.traces.otlpExporter.timeout = .seconds(5)
        configuration.diagnosticLogger = .custom(logger)
        configuration.diagnosticLogLevel = .warning
        // Only the configuration counts: OTEL_* variables in the environment are not read behind its back.
        let service = try OTel.bootstrap(configuration: configuration, environment: [:])
        WorkOrigin.tracingStarted()
        logger.info("tracing: exporting spans over OTLP/HTTP", metadata: ["endpoint": "\(endpoint.host ?? "")",
                                                                           "protocol": "\(settings.wireFormat.rawValue)"])
        return service
    }
}
