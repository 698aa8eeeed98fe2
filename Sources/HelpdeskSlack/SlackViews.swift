import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskOrchestrator
import HelpdeskStore

/// View models for the Slack templates: strings cut to Block Kit's limits, lists ready to render.
/// The templates escape every value for mrkdwn (`SLACK`), so text is cut with ``Mrkdwn/fitting(_:_:)``:
/// Block Kit counts the escaped text (`&` is five characters). Button values are cut with `truncated`.
public enum SlackViews {
    /// Block Kit's limit for a confirm dialog's text.
    static let confirmText = 300
    static let commands: [(usage: String, what: String)] = [
        ("help", "this list"),
        ("diagnose TARGET [symptom…]", "run the runbooks (and the model, if configured) against a target"),
        ("status", "what the bot is doing"),
        ("db TOOL TARGET [key=value…] [purpose=WHY]", "run a database tool through policy (purpose: for allowed_purposes)"),
        ("k8s TOOL NAMESPACE [key=value…] [purpose=WHY]", "run a Kubernetes tool through policy"),
        ("incidents", "recent incidents"),
        ("incident ID", "one incident and its bundle"),
        ("approvals", "pending approval requests"),
        ("approve ID [reason]", "approve a request"),
        ("deny ID [reason]", "deny a request"),
        ("explain EVENT_ID", "why a decision was made"),
        ("silence FINGERPRINT[@RECEIVER] DURATION",
         "silence an alert at its Alertmanager through policy (from `helpdesk alerts list`; @RECEIVER when several receivers got it)"),
    ]

    static func help(_ renderer: SlackRenderer, command: String, mode: String) -> JSONValue {
        let list: [[String: Any]] = commands.enumerated().map { index, entry in
            ["command": command, "usage": entry.usage, "what": entry.what, "sep": index == commands.count - 1 ? "" : ","]
        }
        return renderer.render("help", ["command": command, "commands": list, "mode": mode],
                               fallbackText: commands.map { "\(command) \($0.usage)" }.joined(separator: "\n"))
    }

    static func diagnosis(_ renderer: SlackRenderer, _ diagnosis: Diagnosis) -> JSONValue {
        let icons: [Severity: String] = [.critical: ":red_circle:", .warning: ":large_orange_circle:", .info: ":large_blue_circle:"]
        let findings: [[String: Any]] = diagnosis.findings.prefix(20).map { finding in
            // Advice shares its finding's section: the summary gives up room for it.
            let advice = finding.advice.map { Mrkdwn.fitting($0, 1000) }
            var fields: [String: Any] = [
                "icon": icons[finding.severity] ?? "", "severity": finding.severity.rawValue,
                "summary": Mrkdwn.fitting(finding.summary, SlackRenderer.Limit.sectionText - 60 - (advice == nil ? 0 : 1030)),
            ]
            if let advice { fields["advice"] = advice }
            return fields
        }
        let actions: [[String: Any]] = diagnosis.recommendedActions.prefix(10).map { action in
            var fields: [String: Any] = [
                "call": Mrkdwn.fitting(action.call.summary, 500), "reason": Mrkdwn.fitting(action.reason, 1000),
                "confirmCall": Mrkdwn.fitting(action.call.summary, confirmText - 60),
                "label": Mrkdwn.fitting("Run \(action.call.tool)", SlackRenderer.Limit.buttonLabel),
            ]
            // An action too long for Slack's limit gets no button; its incident and finding go only where they fit.
            let button = RunActionButton(call: action.call,
                                         origin: ApprovalOrigin(incidentID: diagnosis.incidentID, finding: action.finding ?? action.reason))
            if let value = button.value() { fields["value"] = value }
            return fields
        }
        let failed = diagnosis.tools.filter { $0.error != nil }.count
        var context: [String: Any] = [
            "headline": Mrkdwn.fitting(diagnosis.isHealthy ? "\(diagnosis.target) looks healthy" : "Diagnosis of \(diagnosis.target)", 150),
            "summary": Mrkdwn.fitting(diagnosis.summary, 2000), "target": Mrkdwn.fitting(diagnosis.target, 200),
            "trigger": Mrkdwn.fitting(diagnosis.trigger, 100), "mode": diagnosis.mode,
            "milliseconds": String(diagnosis.milliseconds), "findings": findings, "actions": actions, "incident": diagnosis.incidentID,
            "tool_count": String(diagnosis.tools.count),
        ]
        if failed > 0 { context["failed"] = String(failed) }
        if let analysis = diagnosis.analysis { context["analysis"] = Mrkdwn.fitting(analysis, SlackRenderer.Limit.sectionText) }
        return renderer.render("diagnosis", context, fallbackText: diagnosis.summary)
    }

    static func callSummary(_ record: ApprovalRecord) -> String {
        "\(record.call?.callText ?? "?") on \(record.call?.target ?? "?")"
    }

    static func approvalRequest(_ renderer: SlackRenderer, _ record: ApprovalRecord, reason: String, progress: String? = nil) -> JSONValue {
        let approvers = record.policyDecision?.approvers ?? []
        var context: [String: Any] = [
            "id": record.id, "call": Mrkdwn.fitting(callSummary(record), 500), "confirmCall": Mrkdwn.fitting(callSummary(record), confirmText - 60),
            "requester": Mrkdwn.fitting(record.requester, 200), "quorum": String(record.quorum),
            "approvers": approvers.isEmpty ? "anyone but the requester" : approvers.joined(separator: ", "),
            "expires": record.expiresAt.formatted(.iso8601), "reason": Mrkdwn.fitting(reason, 1000),
        ]
        if let progress { context["progress"] = Mrkdwn.fitting(progress, 500) }
        // Session text and the finding come from outside: escaped by the template, cut to a section with its heading.
        if let evidence = record.evidence {
            context["evidence"] = Mrkdwn.fitting(evidence.lines.joined(separator: "\n"), SlackRenderer.Limit.sectionText - 20)
        }
        return renderer.render("approval_request", context, fallbackText: "Approval needed: \(callSummary(record)) (\(record.id))")
    }

    static func voteResult(_ renderer: SlackRenderer, _ result: VoteResult) -> JSONValue {
        switch result {
        case .approved(let record), .denied(let record), .recorded(let record, _):
            let (icon, outcome): (String, String) = switch result {
            case .approved: (":white_check_mark:", "approved; running now")
            case .denied: (":no_entry:", "denied")
            default: (":ballot_box_with_check:", "approval recorded")
            }
            let decidedBy = record.decidedBy.map { " by \($0) at \(record.decidedAt.map { $0.formatted(.iso8601) } ?? "?")" } ?? ""
            return renderer.render("approval_decided", ["id": record.id, "call": Mrkdwn.fitting(callSummary(record), 500), "icon": icon,
                                                         "outcome": outcome, "detail": Mrkdwn.fitting(result.message + decidedBy, 1000)],
                                   fallbackText: "\(record.id): \(outcome)")
        default:
            return error(renderer, result.message)
        }
    }

    /// A request's message once it is decided: no buttons, the outcome in words.
    static func decided(_ renderer: SlackRenderer, _ record: ApprovalRecord, outcome: String) -> JSONValue {
        let icon = switch record.status {
        case .approved: record.execution == "failed" ? ":x:" : ":white_check_mark:"
        case .denied: ":no_entry:"
        case .expired: ":hourglass:"
        case .pending: ":lock:"
        }
        return renderer.render("approval_decided", ["id": record.id, "call": Mrkdwn.fitting(callSummary(record), 500), "icon": icon,
                                                     "outcome": Mrkdwn.fitting(outcome, 1000),
                                                     "detail": Mrkdwn.fitting("requested by \(record.requester)", 300)],
                               fallbackText: "\(record.id): \(outcome)")
    }

    /// The thread of an alert group: its root message starts it, diagnoses and silences reply in it.
    public static func alertThreadKey(_ groupKey: String) -> String { "alertgroup:\(groupKey)" }

    /// The root message of an alert group's thread; `silence` adds its "Silence 1h" button (firing groups).
    public static func alertRoot(_ renderer: SlackRenderer, alertname: String, severity: String, target: String, status: String,
                                 summary: String?, link: String?, alerts: Int, started: String, silence: SilenceButton? = nil) -> JSONValue {
        let icon = status == "resolved" ? ":large_green_circle:" : severity == "critical" ? ":red_circle:" : ":large_orange_circle:"
        // Labels, annotations and times come from the alert: each is cut so the section, the context
        // line and the confirm dialog stay within Block Kit's limits once escaped.
        var context: [String: Any] = ["icon": icon, "alertname": Mrkdwn.fitting(alertname, 200), "severity": Mrkdwn.fitting(severity, 50),
                                      "target": Mrkdwn.fitting(target, 200), "status": status, "alerts": String(alerts),
                                      "started": Mrkdwn.fitting(started, 50)]
        if let summary, !summary.isEmpty { context["summary"] = Mrkdwn.fitting(summary, 1500) }
        // A cut URL would lead elsewhere: a long one is left out. `|` would end the link's address early.
        if let link, link.hasPrefix("http"), Mrkdwn.escaped(link).count <= 1000 {
            // By code point: a combining mark after `|` would hide it from a per-character replace.
            context["link"] = String(String.UnicodeScalarView(link.unicodeScalars.flatMap { $0 == "|" ? Array("%7C".unicodeScalars) : [$0] }))
        }
        if let silence, status == "firing", silence.value.count <= SlackRenderer.Limit.buttonValue {
            let duration = Mrkdwn.fitting(silence.duration, 20)
            let button: [String: Any] = ["value": silence.value, "duration": duration,
                                         "label": Mrkdwn.fitting("Silence \(duration)", SlackRenderer.Limit.buttonLabel)]
            context["silence"] = [button]
        }
        return renderer.render("alert_root", context, fallbackText: "\(alertname) on \(target): \(status)")
    }

    /// `response_url` fields mean nothing to the Web API: keep text and blocks.
    public static func webAPIBody(_ message: JSONValue) -> JSONValue {
        var body: [String: JSONValue] = [:]
        body["text"] = message["text"] ?? .string("")
        if let blocks = message["blocks"] { body["blocks"] = blocks }
        return .object(body)
    }

    /// A diagnosis as a channel message (thread reply), without response_url fields.
    public static func diagnosisForChannel(_ renderer: SlackRenderer, _ diagnosis: Diagnosis) -> JSONValue {
        webAPIBody(Self.diagnosis(renderer, diagnosis))
    }

    static func lines(_ renderer: SlackRenderer, title: String, lines: [String], inChannel: Bool = false) -> JSONValue {
        var message = renderer.render("lines", ["title": Mrkdwn.fitting(title, 300),
                                                "lines": lines.prefix(45).map { ["text": Mrkdwn.fitting($0, SlackRenderer.Limit.sectionText)] }],
                                      fallbackText: ([title] + lines).joined(separator: "\n"))
        if inChannel, case .object(var object) = message {
            object["response_type"] = .string("in_channel")
            message = .object(object)
        }
        return message
    }

    static func error(_ renderer: SlackRenderer, _ message: String, hint: String? = nil) -> JSONValue {
        var context: [String: Any] = ["message": Mrkdwn.fitting(message, SlackRenderer.Limit.sectionText - 20)]
        if let hint { context["hint"] = Mrkdwn.fitting(hint, 1000) }
        return renderer.render("error", context, fallbackText: message)
    }
}

extension SlackViews {
    /// The storm's one root message, edited as it grows: counts, largest groups, what is diagnosed
    /// (out of the places the storm opened with).
    public static func stormDigest(_ renderer: SlackRenderer, _ storm: StormSnapshot) -> JSONValue {
        var context = stormContext(storm)
        context["icon"] = storm.closedAt == nil ? ":rotating_light:" : ":white_check_mark:"
        context["top"] = String(storm.diagnoseTop)
        if let closed = storm.closedAt { context["ended"] = closed.formatted(.iso8601) }
        return webAPIBody(renderer.render("storm_digest", context, fallbackText: "Alert storm: \(storm.firing) alerts in \(storm.groupCount) groups"))
    }

    /// Posted in the storm's thread when it ends: how many alerts, which groups, which were diagnosed, which resolved.
    public static func stormSummary(_ renderer: SlackRenderer, _ storm: StormSnapshot) -> JSONValue {
        var context = stormContext(storm)
        context["lasted"] = lasted((storm.closedAt ?? storm.lastAlertAt).timeIntervalSince(storm.startedAt))
        return webAPIBody(renderer.render("storm_summary", context, fallbackText: "Alert storm over: \(storm.firing) alerts in \(storm.groupCount) groups"))
    }

    private static func stormContext(_ storm: StormSnapshot) -> [String: Any] {
        // Alert text comes from outside: mrkdwn control characters are escaped, and each section stays
        // far below Block Kit's 3,000 characters (at most 25 lines of 100).
        let groupLines = storm.groups.prefix(25).map { group in
            ["text": mrkdwnEscaped(truncated("\(group.name) (\(group.severity)): \(group.firing) firing\(group.resolved > 0 ? ", \(group.resolved) resolved" : "")", 100))]
        }
        let diagnosed = storm.candidates.filter { $0.state != .displaced }.prefix(25).map { candidate in
            ["text": mrkdwnEscaped(truncated("\(candidate.alertname) (\(candidate.severity))\(candidate.state == .queued ? " · waiting" : "")\(candidate.resolved ? " · resolved" : "")", 100))]
        }
        var context: [String: Any] = [
            "firing": String(storm.firing), "resolved": String(storm.resolved), "groups": String(storm.groupCount),
            "started": storm.startedAt.formatted(.iso8601), "groupLines": groupLines, "hasGroups": !groupLines.isEmpty,
            "diagnosed": diagnosed, "hasDiagnosed": !diagnosed.isEmpty,
        ]
        if storm.groupCount > groupLines.count { context["moreGroups"] = String(storm.groupCount - groupLines.count) }
        return context
    }

    /// Slack's mrkdwn treats `<…>` as links and mentions (`<!channel>`): escaped as Slack asks.
    static func mrkdwnEscaped(_ text: String) -> String {
        // Per code point (``Mrkdwn/escaped(_:)``): a per-character replace misses `<` joined to a mark.
        Mrkdwn.escaped(text)
    }

    private static func lasted(_ seconds: TimeInterval) -> String {
        let whole = seconds.isFinite ? Int(min(max(seconds, 0), 1e9)) : 0
        return whole < 3600 ? "\(whole / 60)m \(whole % 60)s" : "\(whole / 3600)h \(whole % 3600 / 60)m"
    }
}
