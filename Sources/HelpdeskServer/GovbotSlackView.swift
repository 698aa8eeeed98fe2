import Foundation
import HelpdeskCore
import HelpdeskSecurity
import HelpdeskSlack

/// govbot's report as a Block Kit message, from the `govbot_report` template: a header, the status,
/// one section per part of the report (at most ``shown`` lines each, then "and K more"), a footer.
/// The block count is fixed (a dozen), far below Block Kit's 50, however long the report is; every
/// line is cut to fit a section once escaped.
public enum GovbotSlackView {
    /// Lines shown per section; the rest are counted ("… and 12 more") and in the JSON.
    public static let shown = 8
    static let lineLimit = 280

    /// The message body (`text` and `blocks`) for the outbox.
    public static func message(_ report: GovbotReport, renderer: SlackRenderer) -> JSONValue {
        SlackViews.webAPIBody(renderer.render("govbot_report", context(report), fallbackText: fallback(report)))
    }

    static func fallback(_ report: GovbotReport) -> String {
        let status = report.findings.isEmpty ? "clean" : "\(report.findings.count) finding(s)"
        return "govbot report \(stamp(report.window.from)) to \(stamp(report.window.to)): \(status)"
    }

    /// The view model: every section carries every key (`false` where it has none), so none picks up another's.
    static func context(_ report: GovbotReport) -> [String: Any] {
        let approvals = report.approvals
        let decisions = report.decisions
        let chain = report.chain
        let ruleLines: [String] = decisions.byRule.map { entry in
            "\(GovbotText.ruleName(entry)): \(entry.count) (\(GovbotText.effects(entry.byEffect)))"
        }
        let approvalSummary = "\(approvals.created) created, \(approvals.approved) approved, \(approvals.denied) denied, "
            + "\(approvals.expired) expired, \(approvals.pending) pending; time to decide median "
            + "\(GovbotText.seconds(approvals.medianSecondsToDecide)), p95 \(GovbotText.seconds(approvals.p95SecondsToDecide))"
        let approverLines: [String] = approvals.byApprover.map { "\($0.principal): \($0.approve) approve, \($0.deny) deny" }
        // Newest first: the latest actions are the ones shown.
        let actionLines: [String] = report.actions.reversed().map { action in
            "\(action.action) \(action.tool) on \(action.target) by \(action.principal ?? "?"): \(action.outcome), \(GovbotText.approval(action))"
        }
        var ruleNotes: [String] = report.rules.matchedEverything.map { "matched everything: \($0.policy) rule \($0.rule) (\($0.summary))" }
        ruleNotes += report.rules.dead.map { "dead: \($0.policy) rule \($0.rule) (\($0.summary))" }
        var peopleLines: [String] = report.people.unmapped.map { "unmapped: \($0.principal) (\($0.events) events)" }
        peopleLines += report.people.idle.map { "idle: \($0)" }
        let chainSummary = chain.ok ? "ok, \(chain.checked) events checked"
            : "BROKEN\(chain.brokenAt.map { " at event \($0)" } ?? ""): \(chain.problem ?? "?")"
        let detectionLines: [String] = report.detections.reversed().map { detection in
            "\(detection.kind) · \(detection.subject): \(detection.summary)\(detection.incident.map { " (\($0))" } ?? "")"
        }
        let sections: [[String: Any]] = [
            section("Findings", summary: report.findings.isEmpty ? "none" : nil, report.findings.map(\.message)),
            section("Decisions", summary: "\(decisions.total): \(GovbotText.effects(decisions.byEffect))", ruleLines),
            section("Approvals", summary: approvalSummary, approverLines),
            section("Write and destructive actions", summary: report.actions.isEmpty ? "none" : "\(report.actions.count)", actionLines),
            section("Rules", summary: "\(report.rules.matchedEverything.count) matched everything, \(report.rules.dead.count) matched nothing",
                    ruleNotes),
            section("People", summary: "\(report.people.unmapped.count) acting without a mapping, \(report.people.idle.count) idle",
                    peopleLines),
            section("Audit chain", summary: chainSummary, []),
            section("secbot detections", summary: report.detections.isEmpty ? "none" : "\(report.detections.count)", detectionLines),
        ]
        let window = "\(stamp(report.window.from)) to \(stamp(report.window.to)) · \(report.window.events) audit events"
        return [
            "fallback": Mrkdwn.fitting(fallback(report), 300),
            "headline": Mrkdwn.fitting("Compliance report", 150),
            "icon": report.findings.isEmpty ? ":white_check_mark:" : ":warning:",
            "status": report.findings.isEmpty ? "Clean: nothing needs attention" : "\(report.findings.count) finding(s) need attention",
            "window": Mrkdwn.fitting(window, 300),
            "sections": sections,
            "footer": Mrkdwn.fitting("generated \(stamp(report.generatedAt)) · helpdesk govbot --json FILE has every line", 300),
        ]
    }

    /// One section: its title, a summary line, the first ``shown`` lines and how many more.
    static func section(_ title: String, summary: String?, _ lines: [String]) -> [String: Any] {
        [
            "title": title,
            "summary": summary.map { Mrkdwn.fitting($0, 400) as Any } ?? false,
            "lines": lines.prefix(shown).map { ["text": Mrkdwn.fitting($0, lineLimit)] },
            "more": lines.count > shown ? String(lines.count - shown) as Any : false as Any,
        ]
    }

    static func stamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
