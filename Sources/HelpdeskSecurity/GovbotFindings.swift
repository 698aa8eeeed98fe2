import Foundation

/// What in a report needs attention (findings: exit status 1) and what is only worth knowing (notes).
///
/// Findings: a broken audit chain, any secbot detection, a destructive call that ran without an
/// approval, a principal acting that maps to no one, a rule that matched every decision, approval
/// requests that expired undecided. Notes: rules that never matched, people who never acted — a
/// quiet day makes both, so they do not fail a scheduled run.
enum GovbotFindings {
    static func of(_ report: GovbotReport) -> (findings: [GovbotReport.Finding], notes: [GovbotReport.Finding]) {
        var findings: [GovbotReport.Finding] = []
        let chain = report.chain
        if !chain.ok {
            let place = chain.brokenAt.map { " at event \($0)" } ?? ""
            findings.append(.init(kind: .chainBroken, subject: "chain",
                                  message: "the audit chain does not verify\(place): \(chain.problem ?? "see helpdesk audit verify")"))
        }
        for detection in report.detections {
            findings.append(.init(kind: .detection, subject: "\(detection.kind):\(detection.subject)",
                                  message: "secbot: \(detection.summary)\(detection.dryRun ? " (dry run)" : "")"
                                      + (detection.incident.map { " — incident \($0)" } ?? "")))
        }
        for action in report.actions where action.action == "destructive" && action.ran && action.approval == nil {
            findings.append(.init(kind: .unapprovedDestructive, subject: "\(action.tool) on \(action.target)",
                                  message: "\(action.principal ?? "someone unknown") ran destructive \(action.tool) on \(action.target) "
                                      + "at \(action.at.formatted(.iso8601)) (event \(action.seq)) without an approval"))
        }
        for actor in report.people.unmapped {
            findings.append(.init(kind: .unmappedActor, subject: actor.principal,
                                  message: "\(actor.principal) \(describe(actor.principal)) acted \(actor.events) time(s) "
                                      + "(\(actor.kinds.joined(separator: ", "))) but maps to no user, service account or API token"))
        }
        for rule in report.rules.matchedEverything {
            findings.append(.init(kind: .ruleMatchesEverything, subject: "\(rule.policy) rule \(rule.rule)",
                                  message: "policy \(rule.policy), rule \(rule.rule) (\(rule.summary)) decided all "
                                      + "\(report.decisions.total) decisions: the policies above it may never apply"))
        }
        if report.approvals.expired > 0 {
            findings.append(.init(kind: .approvalsExpired, subject: "approvals",
                                  message: "\(report.approvals.expired) approval request(s) expired with nobody deciding them"))
        }
        var notes = report.rules.dead.map { rule in
            GovbotReport.Finding(kind: .deadRule, subject: "\(rule.policy) rule \(rule.rule)",
                  message: "policy \(rule.policy), rule \(rule.rule) (\(rule.summary)) decided nothing in the window")
        }
        notes += report.people.idle.map { name in
            GovbotReport.Finding(kind: .idleUser, subject: name, message: "\(name) is under users: and did nothing in the window")
        }
        return (findings, notes)
    }

    /// What kind of principal a string is, for the message: a Slack member, a web name, or a name.
    static func describe(_ principal: String) -> String {
        if principal.hasPrefix("anonymous:slack:") { return "(a Slack member with no slack_user_id under users:)" }
        if principal.hasPrefix("anonymous:web:") { return "(a name the identity proxy sent, not under users:)" }
        if principal.hasPrefix("service:") { return "(a service with no account or token)" }
        return "(not under users:)"
    }
}
