import HelpdeskCore
import HTTPTypes
import Hummingbird
import Tracing

/// One server span per request, named by its route pattern (`POST /alertmanager/{receiver}`), never
/// its path: paths and queries can hold approval tokens. Carries the request id and the status, and
/// continues a caller's W3C `traceparent`. Everything the request queues inherits the span (see
/// ``WorkOrigin``). With tracing off the tracer is a no-op and this costs a task-local read.
struct RequestTracingMiddleware: RouterMiddleware {
    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        var parent = InstrumentationContext.current ?? .topLevel
        if request.headers[.traceParent] != nil {
            InstrumentationSystem.instrument.extract(request.headers, into: &parent, using: HTTPHeaderExtractor())
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
}

extension HTTPField.Name {
    static let traceParent = HTTPField.Name("traceparent")!
}

/// Reads the W3C fields (`traceparent`, `tracestate`) from request headers for the tracer.
struct HTTPHeaderExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        guard let name = HTTPField.Name(key), let value = carrier[name], value.utf8.count <= 512 else { return nil }
        return value
    }
}
