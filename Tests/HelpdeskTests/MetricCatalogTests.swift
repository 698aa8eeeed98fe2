import Foundation
import HelpdeskCore
@testable import HelpdeskServer
import Metrics
import Prometheus
import Testing
import Yams

/// The metric catalog against what reads it: the alerting rules and the dashboard under
/// `adapters/prometheus/` name only metrics it lists, and a fresh server's registry holds every one.
@Suite struct MetricCatalogTests {
    static let adapters = ShippedContentTests.repositoryRoot + "/adapters/prometheus"

    /// The metric names an expression reads: quoted label values (`job=~".*helpdesk.*"`) are no names.
    static func names(in expression: String) -> Set<String> {
        let unquoted = expression.replacing(/"(?:[^"\\]|\\.)*"/, with: "\"\"")
        var found = Set(unquoted.matches(of: /helpdesk_[a-z0-9_]+/).map { String($0.output) })
        if unquoted.contains(/(^|[^a-z_])up\s*[{\[]/) { found.insert("up") }
        return found
    }

    /// The catalog metric a series belongs to: itself, or the histogram whose `_bucket`, `_sum` or `_count` it is.
    static func catalogMetric(_ name: String) -> MetricCatalog.Metric? {
        let byName = Dictionary(uniqueKeysWithValues: MetricCatalog.all.map { ($0.name, $0) })
        if let metric = byName[name] { return metric }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            if let metric = byName[String(name.dropLast(suffix.count))], metric.kind == .histogram { return metric }
        }
        return nil
    }

    static func ruleExpressions() throws -> [String] {
        let text = try String(contentsOfFile: adapters + "/helpdesk-rules.yml", encoding: .utf8)
        let groups = (try Yams.load(yaml: text) as? [String: Any])?["groups"] as? [[String: Any]] ?? []
        return groups.flatMap { ($0["rules"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
    }

    static func dashboardExpressions() throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: adapters + "/helpdesk-dashboard.json"))
        let dashboard = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        func expressions(_ panels: [[String: Any]]) -> [String] {
            panels.flatMap { panel in
                ((panel["targets"] as? [[String: Any]]) ?? []).compactMap { $0["expr"] as? String }
                    + expressions((panel["panels"] as? [[String: Any]]) ?? [])
            }
        }
        return expressions((dashboard["panels"] as? [[String: Any]]) ?? [])
    }

    @Test func everyMetricTheRulesReadIsInTheCatalog() throws {
        let expressions = try Self.ruleExpressions()
        #expect(expressions.count > 10)
        let unknown = expressions.flatMap { Self.names(in: $0) }.filter { $0 != "up" && Self.catalogMetric($0) == nil }
        #expect(unknown.isEmpty, "rules read metrics the catalog does not list: \(Set(unknown).sorted())")
    }

    @Test func everyMetricTheDashboardReadsIsInTheCatalog() throws {
        let expressions = try Self.dashboardExpressions()
        #expect(expressions.count > 20)
        let unknown = expressions.flatMap { Self.names(in: $0) }.filter { $0 != "up" && Self.catalogMetric($0) == nil }
        #expect(unknown.isEmpty, "dashboard queries read metrics the catalog does not list: \(Set(unknown).sorted())")
    }

    @Test func namesAreUniqueAndValidPrometheusNames() {
        let names = MetricCatalog.all.map(\.name)
        #expect(Set(names).count == names.count, "a name listed twice")
        for metric in MetricCatalog.all {
            #expect(metric.name.wholeMatch(of: /helpdesk_[a-z][a-z0-9_]*[a-z0-9]/) != nil, "\(metric.name)")
            #expect(metric.kind != .counter || metric.name.hasSuffix("_total"), "a counter's name ends in _total: \(metric.name)")
            #expect(metric.kind == .counter || !metric.name.hasSuffix("_total"), "only counters end in _total: \(metric.name)")
            #expect(metric.kind == .histogram || metric.buckets == nil, "\(metric.name) has buckets but is no histogram")
            #expect(!metric.help.isEmpty, "\(metric.name) says what it counts")
            for label in metric.labels {
                #expect(label.wholeMatch(of: /[a-z][a-z0-9_]*/) != nil && label != "le", "\(metric.name): label \(label)")
            }
            #expect(Set(metric.labels).count == metric.labels.count, "\(metric.name) lists a label twice")
        }
    }

    @Test func everyNameTheOtherHelpersUseIsListed() {
        let names = Set(MetricCatalog.all.map(\.name))
        for name in ["helpdesk_secbot_detections_total", "helpdesk_secbot_position", "helpdesk_govbot_reports_total", "helpdesk_audit_chain_ok"] {
            #expect(names.contains(name), "\(name)")
        }
    }

    @Test func labelValuesOutsideTheKnownSetAreOther() {
        #expect(MetricCatalog.bounded("approved", among: ["approved", "denied"]) == "approved")
        #expect(MetricCatalog.bounded("apr_123", among: ["approved", "denied"]) == "other")
        #expect(MetricCatalog.slackErrorCode("channel_not_found") == "channel_not_found")
        for code in ["", "http_404", "Channel_Not_Found", "<html>", String(repeating: "a", count: 41)] {
            #expect(MetricCatalog.slackErrorCode(code) == "other", "\(code)")
        }
    }

    @Test func aFreshRegistryListsEveryCatalogMetricWithoutOverwritingAGauge() {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory.helpdesk(registry: registry)
        Gauge(label: MetricCatalog.policyValid.name, factory: factory).record(1)
        let values = MetricSeries.Values(build: BuildLabels(version: "1.2.3", commit: "abc123"), jobKinds: ["selftest", "mail.send"],
                                         tools: ["get_locks"], runbooks: ["postgres-locks", "none", "model"])
        MetricSeries.register(values, factory: factory)
        MetricSeries.register(values, factory: factory)  // again: harmless
        // What the server's parts record afterwards goes to the same series, with the same buckets.
        Timer(label: MetricCatalog.diagnosisDuration.name, dimensions: MetricCatalog.diagnosisDuration.dimensions("none"), factory: factory)
            .recordSeconds(3.0)
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        for metric in MetricCatalog.all {
            #expect(text.contains("# TYPE \(metric.name) \(metric.kind.rawValue)\n"), "\(metric.name) is missing from /metrics")
        }
        #expect(text.contains("helpdesk_policy_valid 1"), "a gauge set before keeps its value")
        #expect(text.contains(#"helpdesk_build_info{version="1.2.3",commit="abc123"} 1"#))
        #expect(text.contains(#"helpdesk_approvals_total{state="expired"} 0"#))
        #expect(text.contains(#"helpdesk_diagnosis_duration_seconds_bucket{runbook="none",le="5.0"} 1"#))
    }
}
