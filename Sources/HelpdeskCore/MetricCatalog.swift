/// Every metric `/metrics` exports: one entry per name, with its type, meaning and label names.
///
/// Callers record through swift-metrics (`Counter`, `Gauge`, `Timer`) with `label: MetricCatalog.x.name`
/// and `dimensions: MetricCatalog.x.dimensions(…)`, never a string literal, so the rules and the
/// dashboard under `adapters/prometheus/` (checked against this list by tests) name what is exported.
///
/// Label values are always bounded: route patterns, states, outcomes, tool and runbook names the
/// server ships or loads — never ids, channels, people or free text. A value outside the known set
/// is recorded as `other` (``bounded(_:among:)``).
///
/// The help texts are documentation (the README lists them): swift-prometheus' metrics factory
/// writes no `# HELP` line, and refuses a second help text for a name another part made without one.
public enum MetricCatalog {
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    public struct Metric: Sendable, Equatable {
        public let name: String
        public let kind: Kind
        public let help: String
        /// Label names, in the order every caller passes them (the registry keys a series by its labels in order).
        public let labels: [String]
        /// A histogram's bucket upper bounds in seconds; `nil` keeps swift-prometheus' defaults (5 ms to 10 s).
        public let buckets: [Double]?

        public init(name: String, kind: Kind, help: String, labels: [String] = [], buckets: [Double]? = nil) {
            self.name = name
            self.kind = kind
            self.help = help
            self.labels = labels
            self.buckets = buckets
        }

        /// The label pairs for `values`, given in the order of ``labels``.
        public func dimensions(_ values: String...) -> [(String, String)] {
            assert(values.count == labels.count, "\(name) takes the labels \(labels), got \(values.count) values")
            return Array(zip(labels, values))
        }
    }

    /// `value` when it is one of `known`, else `other`: what keeps a label's series bounded.
    public static func bounded(_ value: String, among known: some Collection<String>) -> String {
        known.contains(value) ? value : "other"
    }

    /// A Slack Web API error code as a label value: Slack's codes are short snake_case words
    /// (`channel_not_found`); anything else (a proxy's page, a long or odd string) is `other`.
    public static func slackErrorCode(_ code: String) -> String {
        let bytes = code.utf8
        let letters = UInt8(ascii: "a") ... UInt8(ascii: "z")
        let valid = (1...40).contains(bytes.count) && bytes.allSatisfy { letters.contains($0) || $0 == UInt8(ascii: "_") }
        return valid ? code : "other"
    }
}

// MARK: HTTP and Slack

extension MetricCatalog {
    public static let httpRequests = Metric(
        name: "helpdesk_http_requests_total", kind: .counter,
        help: "HTTP requests answered, by route pattern (unmatched paths share one), method and status.",
        labels: ["route", "method", "status"])
    public static let httpRequestDuration = Metric(
        name: "helpdesk_http_request_duration_seconds", kind: .histogram,
        help: "Time to answer an HTTP request, by route pattern, method and status.",
        labels: ["route", "method", "status"])
    public static let httpRateLimited = Metric(
        name: "helpdesk_http_rate_limited_total", kind: .counter,
        help: "Requests refused with 429 by the per-source rate limit.")
    public static let httpReadTimeouts = Metric(
        name: "helpdesk_http_read_timeouts_total", kind: .counter,
        help: "Connections closed because a request was not read within server.request_read_timeout.")
    public static let slackRequests = Metric(
        name: "helpdesk_slack_requests_total", kind: .counter,
        help: "Slack requests by endpoint (commands, interactions) and outcome; signature failures are rejected_<reason>.",
        labels: ["endpoint", "outcome"])
    public static let slackCommands = Metric(
        name: "helpdesk_slack_commands_total", kind: .counter,
        help: "Slash commands by their first word (a known command, else other).",
        labels: ["command"])
    public static let slackAPIErrors = Metric(
        name: "helpdesk_slack_api_errors_total", kind: .counter,
        help: "Slack Web API calls that failed, by method and Slack's error code (ratelimited, transient, or other).",
        labels: ["method", "code"])
    public static let outboxPending = Metric(
        name: "helpdesk_outbox_pending", kind: .gauge,
        help: "Slack messages waiting in the outbox (every replica's), sampled every 15 s.")
}

// MARK: Alerts and diagnoses

extension MetricCatalog {
    public static let alertmanagerRequests = Metric(
        name: "helpdesk_alertmanager_requests_total", kind: .counter,
        help: "Alertmanager webhook requests by outcome.", labels: ["outcome"])
    public static let alertsReceived = Metric(
        name: "helpdesk_alerts_received_total", kind: .counter,
        help: "Alerts received in Alertmanager notifications, repeats included.")
    public static let alertsDeduplicated = Metric(
        name: "helpdesk_alerts_deduplicated_total", kind: .counter,
        help: "Alerts received that were repeats of a known (fingerprint, startsAt, status): nothing done.")
    public static let alertsDiagnosed = Metric(
        name: "helpdesk_alerts_diagnosed_total", kind: .counter,
        help: "Firing alerts' diagnosis jobs by outcome: diagnosed, cooldown (fired again soon), storm_skipped.",
        labels: ["outcome"])
    public static let stormsOpen = Metric(
        name: "helpdesk_storms_open", kind: .gauge,
        help: "Alert storms open (channels in storm mode), sampled every 15 s.")
    public static let diagnosisDuration = Metric(
        name: "helpdesk_diagnosis_duration_seconds", kind: .histogram,
        help: "Time a diagnosis took, by the first runbook it ran (none when none matched; model when a model investigated).",
        labels: ["runbook"], buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600])
}

// MARK: Governance

extension MetricCatalog {
    public static let toolCalls = Metric(
        name: "helpdesk_tool_calls_total", kind: .counter,
        help: "Tool calls the gate ran, by tool (the agents' built-in tools) and outcome (ok, error).",
        labels: ["tool", "outcome"])
    public static let policyDecisions = Metric(
        name: "helpdesk_policy_decisions_total", kind: .counter,
        help: "Policy decisions the gate made for calls, by effect (allow, deny, require_approval).",
        labels: ["effect"])
    public static let approvals = Metric(
        name: "helpdesk_approvals_total", kind: .counter,
        help: "Approval requests by state reached: created, approved, denied, expired.",
        labels: ["state"])
    public static let approvalDecision = Metric(
        name: "helpdesk_approval_decision_seconds", kind: .histogram,
        help: "Time from an approval request's creation to its approval or denial.",
        buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400])
    public static let policyValid = Metric(
        name: "helpdesk_policy_valid", kind: .gauge,
        help: "1 while the policy files on disk load; 0 after a reload failed (the previous policies stay in force).")
    public static let policyReloads = Metric(
        name: "helpdesk_policy_reloads_total", kind: .counter,
        help: "Policy reloads by outcome (ok, failed).", labels: ["outcome"])
    public static let auditChainOK = Metric(
        name: "helpdesk_audit_chain_ok", kind: .gauge,
        help: "1 when the last walk of the audit chain verified it, 0 when it found a break (see the audit view).")
    public static let auditChainChecked = Metric(
        name: "helpdesk_audit_chain_checked_timestamp_seconds", kind: .gauge,
        help: "Unix time of the last completed walk of the audit chain (0: none yet).")
}

// MARK: Mail, jobs, store, build

extension MetricCatalog {
    public static let mailSent = Metric(
        name: "helpdesk_mail_sent_total", kind: .counter,
        help: "Emails the SMTP server accepted.")
    public static let smtpFailures = Metric(
        name: "helpdesk_smtp_failures_total", kind: .counter,
        help: "Attempts to send an email that failed (each retry counts).")
    public static let jobs = Metric(
        name: "helpdesk_jobs", kind: .gauge,
        help: "Jobs in the queue by state (queued, running, done, dead), read from the store at each scrape.",
        labels: ["state"])
    public static let jobsOldestDueAge = Metric(
        name: "helpdesk_jobs_oldest_due_age_seconds", kind: .gauge,
        help: "How long the oldest due queued job has waited past its run time.")
    public static let jobsProcessed = Metric(
        name: "helpdesk_jobs_processed_total", kind: .counter,
        help: "Job attempts by kind and outcome (done, retry, dead, released, lease_lost, store_error).",
        labels: ["kind", "outcome"])
    public static let jobDuration = Metric(
        name: "helpdesk_job_duration_seconds", kind: .histogram,
        help: "Time a job attempt ran, by kind.", labels: ["kind"])
    public static let jobLeaseReclaims = Metric(
        name: "helpdesk_job_lease_reclaims_total", kind: .counter,
        help: "Job leases of stopped processes taken back at start.")
    public static let jobsDeadLettered = Metric(
        name: "helpdesk_jobs_dead_lettered_total", kind: .counter,
        help: "Jobs moved to the dead-letter state (out of attempts, or failed for good).")
    public static let storeBackups = Metric(
        name: "helpdesk_store_backups_total", kind: .counter,
        help: "Scheduled store backups by outcome (ok, failed).", labels: ["outcome"])
    public static let storeBackupDuration = Metric(
        name: "helpdesk_store_backup_duration_seconds", kind: .histogram,
        help: "Time a successful scheduled backup took.")
    public static let storeBackupLastSuccess = Metric(
        name: "helpdesk_store_backup_last_success_timestamp_seconds", kind: .gauge,
        help: "Unix time of the last successful scheduled backup.")
    public static let buildInfo = Metric(
        name: "helpdesk_build_info", kind: .gauge,
        help: "Always 1; its labels say which build runs.", labels: ["version", "commit"])
}

// MARK: secbot and govbot

extension MetricCatalog {
    /// secbot's detection kinds: the only values of ``secbotDetections``' `kind` label.
    public static let secbotDetectionKinds = [
        "unauthorized_destructive", "hash_mismatch", "high_volume", "potential_sql_injection", "potential_command_injection",
        "repeated_denials", "outsider_vote", "fast_approval", "policy_widened",
    ]
    public static let secbotDetections = Metric(
        name: "helpdesk_secbot_detections_total", kind: .counter,
        help: "secbot's detections by kind.", labels: ["kind"])
    public static let secbotPosition = Metric(
        name: "helpdesk_secbot_position", kind: .gauge,
        help: "The last audit sequence number secbot examined.")
    public static let govbotReports = Metric(
        name: "helpdesk_govbot_reports_total", kind: .counter,
        help: "govbot's reports by outcome (clean, findings, error).", labels: ["outcome"])
}

extension MetricCatalog {
    /// Every metric, in the order the README lists them.
    public static let all: [Metric] = [
        httpRequests, httpRequestDuration, httpRateLimited, httpReadTimeouts,
        slackRequests, slackCommands, slackAPIErrors, outboxPending,
        alertmanagerRequests, alertsReceived, alertsDeduplicated, alertsDiagnosed, stormsOpen, diagnosisDuration,
        toolCalls, policyDecisions, approvals, approvalDecision, policyValid, policyReloads, auditChainOK, auditChainChecked,
        mailSent, smtpFailures,
        jobs, jobsOldestDueAge, jobsProcessed, jobDuration, jobLeaseReclaims, jobsDeadLettered,
        storeBackups, storeBackupDuration, storeBackupLastSuccess, buildInfo,
        secbotDetections, secbotPosition, govbotReports,
    ]
}
