import HelpdeskCore
import HTTPTypes
import Hummingbird
import Tracing

/// One server span per request, named by its route pattern (`POST /webhooks/alertmanager`), never
/// its path: paths and queries can hold approval tokens. Carries the request id and the status;
/// everything the request queues inherits the span (see ``WorkOrigin``). Installed only while spans
/// are exported, after the rate limit (a flood makes no spans), and not on the probes and `/metrics`.
///
/// A caller's W3C `traceparent` is continued only when `tracing.accept_incoming_context` says the
/// proxy in front is trusted to strip it from outside requests: otherwise anyone could force sampling
/// or attach spans to any trace. Even then only a well-formed `traceparent` and a bounded
/// `tracestate` reach the tracer — never the other headers (cookies, Slack's signature).
struct RequestTracingMiddleware: RouterMiddleware {
    let acceptIncomingContext: Bool

    static let untracedPaths: Set<String> = ["/healthz", "/readyz", "/metrics"]

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        guard !Self.untracedPaths.contains(request.uri.path) else { return try await next(request, context) }
        var parent = InstrumentationContext.topLevel
        if acceptIncomingContext, let carrier = Self.incomingContext(request.headers) {
            InstrumentationSystem.instrument.extract(carrier, into: &parent, using: TraceFieldExtractor())
        }
        let span = startSpan("\(request.method.rawValue) (unrouted)", context: parent, ofKind: .server)
        span.attributes["http.request.method"] = request.method.rawValue
        span.attributes["helpdesk.request_id"] = context.requestID
        defer { span.end() }
        do {
            let response = try await InstrumentationContext.withValue(span.context) { try await next(request, context) }
            name(span, request, context)
            span.attributes["http.response.status_code"] = Int(response.status.code)
            if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            return response
        } catch {
            name(span, request, context)
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            span.attributes["http.response.status_code"] = Int(status)
            if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
            throw error
        }
    }

    private func name(_ span: any Span, _ request: Request, _ context: AppRequestContext) {
        guard let route = context.endpointPath else { return }
        span.operationName = "\(request.method.rawValue) \(route)"
        span.attributes["http.route"] = route
    }

    /// The W3C fields of a request, when its `traceparent` is well formed; a `tracestate` over 512
    /// bytes or with characters outside its grammar is dropped.
    static func incomingContext(_ headers: HTTPFields) -> [String: String]? {
        guard let value = headers[.traceParent], let traceParent = WorkOrigin.acceptableTraceParent(value) else { return nil }
        var fields = ["traceparent": traceParent]
        if let state = headers[.traceState], state.utf8.count <= 512,
           state.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) {
            fields["tracestate"] = state
        }
        return fields
    }
}

extension HTTPField.Name {
    static let traceParent = HTTPField.Name("traceparent")!
    static let traceState = HTTPField.Name("tracestate")!
}

/// Hands the tracer only the fields ``RequestTracingMiddleware/incomingContext(_:)`` kept.
struct TraceFieldExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key.lowercased()]
    }
}
