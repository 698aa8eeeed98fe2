import HelpdeskCore
import Hummingbird
import Logging
import Metrics

/// Counts requests and times them by route pattern, method and status. Unmatched paths share one
/// route label, so a scanner cannot grow the metric set without bound.
struct MetricsMiddleware: RouterMiddleware {
    let factory: any MetricsFactory

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        let dimensions = MetricCatalog.httpRequests.dimensions(route, request.method.rawValue, String(response.status.code))
        Counter(label: MetricCatalog.httpRequests.name, dimensions: dimensions, factory: factory).increment()
        Timer(label: MetricCatalog.httpRequestDuration.name, dimensions: dimensions, factory: factory)
            .recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        return response
    }
}
