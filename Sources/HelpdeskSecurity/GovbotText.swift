import Foundation

/// A report as plain text for a terminal: one heading per section, columns aligned, every list whole.
public enum GovbotText {
    public static func render(_ report: GovbotReport) -> String {
        var out: [String] = []
        let window = "\(stamp(report.window.from)) to \(stamp(report.window.to))"
        out.append("govbot report: \(window) (\(report.window.events) audit events)")
        out.append(report.findings.isEmpty ? "status: clean" : "status: \(report.findings.count) finding(s)")

        out.append("")
        out.append("Findings")
        out += report.findings.isEmpty ? ["  none"] : report.findings.map { "  ! [\($0.kind.rawValue)] \($0.message)" }

        let decisions = report.decisions
        out.append("")
        out.append("Decisions: \(decisions.total)  " + effects(decisions.byEffect))
        out += table(decisions.byRule.map { entry -> [String] in
            [ruleName(entry), String(entry.count), effects(entry.byEffect)]
        }, rightAligned: [1])

        let approvals = report.approvals
        out.append("")
        out.append("Approvals: \(approvals.created) created, \(approvals.approved) approved, \(approvals.denied) denied, "
                   + "\(approvals.expired) expired, \(approvals.pending) pending")
        out.append("  time to decide: median \(seconds(approvals.medianSecondsToDecide)), p95 \(seconds(approvals.p95SecondsToDecide))")
        out += table(approvals.byApprover.map { [$0.principal, "\($0.approve) approve", "\($0.deny) deny"] }, rightAligned: [1, 2])

        out.append("")
        out.append("Write and destructive actions: \(report.actions.count)")
        out += table(report.actions.map { action -> [String] in
            [stamp(action.at), action.action, action.tool, action.target, action.principal ?? "-", action.outcome, approval(action)]
        }, rightAligned: [])

        out.append("")
        out.append("Rules that matched everything: \(report.rules.matchedEverything.count)")
        out += table(report.rules.matchedEverything.map { [$0.policy, "rule \($0.rule)", $0.summary] }, rightAligned: [])
        out.append("Dead rules (matched nothing): \(report.rules.dead.count)")
        out += table(report.rules.dead.map { [$0.policy, "rule \($0.rule)", $0.summary] }, rightAligned: [])

        out.append("")
        out.append("Unmapped actors: \(report.people.unmapped.count)")
        out += table(report.people.unmapped.map { [$0.principal, "\($0.events) events", $0.kinds.joined(separator: ", ")] }, rightAligned: [1])
        out.append("Idle users: " + (report.people.idle.isEmpty ? "none" : report.people.idle.joined(separator: ", ")))

        out.append("")
        let chain = report.chain
        out.append(chain.ok ? "Audit chain: ok (\(chain.checked) events checked)"
                   : "Audit chain: BROKEN\(chain.brokenAt.map { " at event \($0)" } ?? ""): \(chain.problem ?? "?")")

        out.append("")
        out.append("secbot detections: \(report.detections.count)")
        out += table(report.detections.map { detection -> [String] in
            let summary = detection.summary + (detection.dryRun ? " (dry run)" : "")
            return [stamp(detection.at), detection.kind, detection.subject, summary, detection.incident ?? "-"]
        }, rightAligned: [])
        return out.joined(separator: "\n") + "\n"
    }

    /// `production rule 2`, or the default deny.
    public static func ruleName(_ entry: GovbotReport.RuleCount) -> String {
        guard let policy = entry.policy else { return "(no policy: default deny)" }
        return "\(policy) rule \(entry.rule.map { String($0) } ?? "?")"
    }

    /// `apr_… by alice, carol`, or `no approval`.
    public static func approval(_ action: GovbotReport.Action) -> String {
        guard let id = action.approval else { return "no approval" }
        return "\(id) by \(action.approvedBy.isEmpty ? "-" : action.approvedBy.joined(separator: ", "))"
    }

    /// `allow 3, deny 1`, in a fixed order.
    public static func effects(_ counts: [String: Int]) -> String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// `45s`, `12.5m`, `3.2h`; `-` for none.
    public static func seconds(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value < 120 { return String(format: "%.0fs", value) }
        if value < 7200 { return String(format: "%.1fm", value / 60) }
        return String(format: "%.1fh", value / 3600)
    }

    public static func stamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// Rows indented two spaces, each column as wide as its widest cell; `rightAligned` columns pad on the left.
    public static func table(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            let cells = row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                if column == row.count - 1, !rightAligned.contains(column) { return cell }
                return rightAligned.contains(column) ? padding + cell : cell + padding
            }
            return "  " + cells.joined(separator: "  ")
        }
    }
}
