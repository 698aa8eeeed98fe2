import Foundation

/// `tracing:` — spans exported over OTLP/HTTP when an endpoint is set; nothing at all when not.
///
/// One trace follows an alert from the webhook through its jobs, the tools and the Slack post.
/// Spans carry ids, names and timings, never message bodies, SQL text or secrets.
public struct TracingSettings: Sendable {
    public enum WireFormat: String, Sendable, CaseIterable {
        case protobuf = "http/protobuf"
        case json = "http/json"
    }

    /// The collector's OTLP/HTTP base URL, e.g. `http://otel-collector:4318` (`/v1/traces` is added).
    public var otlpEndpoint: URL?
    public var wireFormat = WireFormat.protobuf
    /// `service.name` on every span.
    public var serviceName = "helpdesk"
    /// The share of new traces kept (a caller's sampled flag is followed).
    public var sampleRatio = 1.0

    public var enabled: Bool { otlpEndpoint != nil }

    public init() {}

    init(_ section: ConfigSection) {
        otlpEndpoint = section.url("otlp_endpoint", schemes: ["http", "https"])
        wireFormat = section.choice("protocol", default: wireFormat)
        serviceName = section.string("service_name", default: serviceName)
        if serviceName.isEmpty || serviceName.utf8.count > 100 {
            section.report("service_name", "must be 1 to 100 characters")
            serviceName = "helpdesk"
        }
        let percent = section.int("sample_percent", default: 100, range: 0 ... 100)
        sampleRatio = Double(percent) / 100
        section.finish()
    }
}
