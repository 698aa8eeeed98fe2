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

    /// The collector's OTLP/HTTP base URL, e.g. `http://otel-collector:4318` (`/v1/traces` is added to a
    /// URL without a path; one with a path is used as it is).
    public var otlpEndpoint: URL?
    public var wireFormat = WireFormat.protobuf
    /// `service.name` on every span.
    public var serviceName = "helpdesk"
    /// The share of new traces kept (a caller's sampled flag is followed).
    public var sampleRatio = 1.0
    /// Continue a caller's W3C `traceparent` (and follow its sampled flag). Only behind a proxy or
    /// gateway that traces and strips the header from outside requests: from anyone else it would
    /// force sampling and attach spans to traces of their choosing.
    public var acceptIncomingContext = false

    public var enabled: Bool { otlpEndpoint != nil }

    /// Where spans are posted: a base URL gets OTLP's `/v1/traces`; a URL with a path is taken as it is.
    public static func tracesURL(_ endpoint: URL) -> String {
        let text = endpoint.absoluteString
        guard endpoint.path.isEmpty || endpoint.path == "/" else { return text }
        return (text.hasSuffix("/") ? String(text.dropLast()) : text) + "/v1/traces"
    }

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
        acceptIncomingContext = section.bool("accept_incoming_context", default: acceptIncomingContext)
        section.finish()
    }
}
