import HelpdeskAlerts
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskJobs
import HelpdeskSlack
import HelpdeskStore
import Metrics

/// Makes every series of the catalog that has a known, bounded set of label values before the first
/// event, so `/metrics` of a freshly started server lists every metric and `rate()` and `increase()`
/// see the first event as a change from 0. Making a series records nothing: a gauge another part
/// set already keeps its value.
enum MetricSeries {
    /// What the label values come from: the parts this process was built with.
    struct Values {
        var build: BuildLabels
        var jobKinds: [String]
        var tools: [String]
        var runbooks: [String]
    }

    static func register(_ values: Values, factory: any MetricsFactory) {
        func counter(_ metric: MetricCatalog.Metric, _ labels: String...) {
            _ = Counter(label: metric.name, dimensions: Array(zip(metric.labels, labels)), factory: factory)
        }
        func gauge(_ metric: MetricCatalog.Metric, _ labels: String...) {
            _ = Gauge(label: metric.name, dimensions: Array(zip(metric.labels, labels)), factory: factory)
        }
        func timer(_ metric: MetricCatalog.Metric, _ labels: String...) {
            _ = Timer(label: metric.name, dimensions: Array(zip(metric.labels, labels)), factory: factory)
        }
        // The scrape itself is the first request: its series exist before it is counted.
        counter(MetricCatalog.httpRequests, "/metrics", "GET", "200")
        timer(MetricCatalog.httpRequestDuration, "/metrics", "GET", "200")
        counter(MetricCatalog.httpRateLimited)
        counter(MetricCatalog.httpReadTimeouts)
        for endpoint in SlackRoutes.endpoints {
            for outcome in SlackRoutes.outcomes { counter(MetricCatalog.slackRequests, endpoint, outcome) }
        }
        for command in CommandRequest.metricNames { counter(MetricCatalog.slackCommands, command) }
        counter(MetricCatalog.slackAPIErrors, "chat.postMessage", "ratelimited")
        gauge(MetricCatalog.outboxPending)
        for outcome in AlertmanagerRoutes.outcomes { counter(MetricCatalog.alertmanagerRequests, outcome) }
        counter(MetricCatalog.alertsReceived)
        counter(MetricCatalog.alertsDeduplicated)
        for outcome in SrebotAlertJob.outcomes { counter(MetricCatalog.alertsDiagnosed, outcome) }
        gauge(MetricCatalog.stormsOpen)
        for runbook in values.runbooks { timer(MetricCatalog.diagnosisDuration, runbook) }
        for tool in values.tools {
            for outcome in Governance.toolOutcomes { counter(MetricCatalog.toolCalls, tool, outcome) }
        }
        for effect in Governance.decisionEffects { counter(MetricCatalog.policyDecisions, effect) }
        for state in Governance.approvalStates { counter(MetricCatalog.approvals, state) }
        timer(MetricCatalog.approvalDecision)
        gauge(MetricCatalog.policyValid)
        for outcome in ["ok", "failed"] { counter(MetricCatalog.policyReloads, outcome) }
        gauge(MetricCatalog.auditChainOK)
        gauge(MetricCatalog.auditChainChecked)
        counter(MetricCatalog.mailSent)
        counter(MetricCatalog.smtpFailures)
        for state in JobState.allCases { gauge(MetricCatalog.jobs, state.rawValue) }
        gauge(MetricCatalog.jobsOldestDueAge)
        for kind in values.jobKinds {
            for outcome in ["done", "retry", "dead"] { counter(MetricCatalog.jobsProcessed, kind, outcome) }
            timer(MetricCatalog.jobDuration, kind)
        }
        counter(MetricCatalog.jobLeaseReclaims)
        counter(MetricCatalog.jobsDeadLettered)
        for outcome in ["ok", "failed"] { counter(MetricCatalog.storeBackups, outcome) }
        timer(MetricCatalog.storeBackupDuration)
        gauge(MetricCatalog.storeBackupLastSuccess)
        Gauge(label: MetricCatalog.buildInfo.name, dimensions: MetricCatalog.buildInfo.dimensions(values.build.version, values.build.commit),
              factory: factory).record(1)
        for kind in MetricCatalog.secbotDetectionKinds { counter(MetricCatalog.secbotDetections, kind) }
        gauge(MetricCatalog.secbotPosition)
        for outcome in ["clean", "findings", "error"] { counter(MetricCatalog.govbotReports, outcome) }
    }
}
