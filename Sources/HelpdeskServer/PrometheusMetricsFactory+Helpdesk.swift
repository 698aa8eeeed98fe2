import HelpdeskCore
import Prometheus

extension PrometheusMetricsFactory {
    /// The factory every part of the process records through (the global one `serve` and `demo`
    /// bootstrap, and the one handed to the server's parts): the catalog's histogram buckets set.
    /// The registry refuses a second bucket set for a name, so no other factory may make those histograms.
    public static func helpdesk(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        for metric in MetricCatalog.all {
            guard let buckets = metric.buckets else { continue }
            factory.durationHistogramBuckets[metric.name] = buckets.map { .milliseconds(Int64(($0 * 1000).rounded())) }
        }
        return factory
    }
}

/// Which build runs, for `helpdesk_build_info{version,commit}`: the executable knows (BuildInfo), the server does not.
public struct BuildLabels: Sendable, Equatable {
    public var version: String
    public var commit: String

    public init(version: String, commit: String) {
        self.version = version
        self.commit = commit
    }

    public static let unknown = BuildLabels(version: "unknown", commit: "unknown")
}
