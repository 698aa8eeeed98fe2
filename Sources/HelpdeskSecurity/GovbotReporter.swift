import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore

/// Builds a ``GovbotReport`` from the store's audit log and approvals, the policies in force and the
/// users directory. Read-only: it writes nothing (the caller posts or records the report).
public struct GovbotReporter: Sendable {
    /// A rule "matched everything" only over at least this many decisions: over three it says little.
    public static let everythingThreshold = 20
    /// Audit events read per query while paging through the window.
    static let pageSize = 1000
    /// Principals this project writes itself (policy reloads, secbot, govbot, the alert bot).
    static let builtInPrincipals: Set<String> = ["helpdesk", BuiltInServices.securityBot, BuiltInServices.governanceBot,
                                                 BuiltInServices.alertBot]

    let store: any Store
    let policies: PolicySet
    let directory: UserDirectory
    let knownPrincipals: Set<String>
    let now: @Sendable () -> Date

    /// - Parameters:
    ///   - knownPrincipals: principals that are mapped although not under `users:` (the API tokens' names).
    ///   - now: the report's `generated_at`.
    public init(store: any Store, policies: PolicySet, directory: UserDirectory, knownPrincipals: Set<String> = [],
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.policies = policies
        self.directory = directory
        self.knownPrincipals = knownPrincipals
        self.now = now
    }

    /// The report over `[from, to)`. Throws when the store does not answer.
    public func report(from: Date, to: Date) async throws -> GovbotReport {
        let counts = try await read(from: from, to: to)
        let verification = try await store.audit.verify()
        var records: [String: ApprovalRecord] = [:]
        for id in Set(counts.created + counts.decided.map { $0.id } + counts.toolCalls.compactMap(\.approval)) {
            records[id] = try await store.approvals.approval(id: id)
        }
        var report = GovbotReport(
            generatedAt: now(), window: .init(from: from, to: to, events: counts.events), decisions: Self.decisions(counts),
            approvals: Self.approvals(counts, records: records, to: to), actions: Self.actions(counts, records: records),
            rules: rules(counts), people: people(counts),
            chain: .init(ok: verification.ok, checked: verification.checked, problem: verification.problem, brokenAt: verification.brokenAt),
            detections: counts.detections, findings: [], notes: [])
        (report.findings, report.notes) = GovbotFindings.of(report)
        return report
    }

    /// Every event of `[from, to)`, counted. The first page by time, then page after page by sequence
    /// number, so no event is skipped when replicas' clocks differ (a later seq with an earlier time);
    /// reading stops once a page ends `clockSkew` past the window.
    func read(from: Date, to: Date) async throws -> GovbotTally {
        var tally = GovbotTally()
        var page = try await store.audit.events(since: from, limit: Self.pageSize)
        while let last = page.last {
            for event in page where event.at >= from && event.at < to { tally.add(event) }
            if page.count < Self.pageSize || last.at >= to.addingTimeInterval(Self.clockSkew) { break }
            page = try await store.audit.events(afterSeq: last.seq, limit: Self.pageSize)
        }
        return tally
    }

    /// How far replicas' clocks may differ, for where a window's events can still turn up.
    static let clockSkew: TimeInterval = 300

    static func decisions(_ tally: GovbotTally) -> GovbotReport.Decisions {
        let byRule = tally.byRule.map { key, effects in
            GovbotReport.RuleCount(policy: key.policy, rule: key.rule.map { $0 + 1 }, count: effects.values.reduce(0, +), byEffect: effects)
        }
        .sorted { ($1.count, $0.policy ?? "", $0.rule ?? 0) < ($0.count, $1.policy ?? "", $1.rule ?? 0) }
        return GovbotReport.Decisions(total: tally.decisions, byEffect: tally.byEffect, byRule: byRule)
    }

    /// Dead rules: every rule of an enabled policy that decided nothing. Matched everything: the one
    /// rule that decided every decision, over at least ``everythingThreshold`` of them.
    func rules(_ tally: GovbotTally) -> GovbotReport.Rules {
        var dead: [GovbotReport.RuleReference] = []
        var everything: [GovbotReport.RuleReference] = []
        let engine = policies.engine
        for policy in engine.policies where policy.enabled {
            for (index, rule) in policy.rules.enumerated() {
                let reference = GovbotReport.RuleReference(policy: policy.name, rule: index + 1, summary: Self.summary(rule))
                let decided = tally.byRule[.init(policy: policy.name, rule: index)]?.values.reduce(0, +) ?? 0
                if decided == 0 { dead.append(reference) }
                if tally.decisions >= Self.everythingThreshold, decided == tally.decisions { everything.append(reference) }
            }
        }
        return GovbotReport.Rules(dead: dead, matchedEverything: everything)
    }

    /// `read/write → allow`, with `(scheduled)` for a rule that decides only while its schedule is active.
    static func summary(_ rule: PolicyRule) -> String {
        let actions = rule.actions.map(\.rawValue).joined(separator: "/")
        return "\(actions) → \(rule.effect.rawValue)\(rule.conditions.schedule == nil ? "" : " (scheduled)")"
    }

    static func approvals(_ tally: GovbotTally, records: [String: ApprovalRecord], to: Date) -> GovbotReport.Approvals {
        let times = tally.decided.compactMap { decided in
            records[decided.id].map { max(0, decided.at.timeIntervalSince($0.createdAt)) }
        }.sorted()
        // Created in the window and not decided (or expired) before its end.
        let pending = Set(tally.created).filter { id in
            guard let record = records[id] else { return false }
            return record.decidedAt.map { $0 >= to } ?? true
        }
        let byApprover = tally.votes.map { GovbotReport.ApproverVotes(principal: $0.key, approve: $0.value.approve, deny: $0.value.deny) }
            .sorted { ($1.approve + $1.deny, $0.principal) < ($0.approve + $0.deny, $1.principal) }
        return GovbotReport.Approvals(
            created: tally.created.count, approved: tally.decided.filter { $0.status == "approved" }.count,
            denied: tally.decided.filter { $0.status == "denied" }.count, expired: tally.expired.count, pending: pending.count,
            medianSecondsToDecide: median(times), p95SecondsToDecide: nearestRank(times, 0.95), byApprover: byApprover)
    }

    static func actions(_ tally: GovbotTally, records: [String: ApprovalRecord]) -> [GovbotReport.Action] {
        tally.toolCalls.map { call in
            let approvers = call.approval.flatMap { records[$0] }?.votes.filter { $0.vote == .approve }.map(\.principal) ?? []
            return GovbotReport.Action(at: call.event.at, seq: call.event.seq, tool: call.tool, target: call.target, action: call.action,
                                       principal: call.event.principal, outcome: call.outcome, approval: call.approval, approvedBy: approvers)
        }
    }

    func people(_ tally: GovbotTally) -> GovbotReport.People {
        let idle = directory.users.map(\.name).filter { tally.actors[$0] == nil }.sorted()
        let unmapped = tally.actors.filter { !isMapped($0.key) }
            .map { GovbotReport.Actor(principal: $0.key, events: $0.value.events, kinds: $0.value.kinds.sorted()) }
            .sorted { ($1.events, $0.principal) < ($0.events, $1.principal) }
        return GovbotReport.People(idle: idle, unmapped: unmapped)
    }

    /// Whether `principal` (as `Principal.description` writes it) names someone the configuration knows:
    /// a user, a service account, an API token's principal, an Alertmanager receiver, or the bot itself.
    /// `anonymous:slack:U…` is a Slack member with no `slack_user_id` under `users:`; `anonymous:web:…`
    /// a proxy-signed name that is no user.
    func isMapped(_ principal: String) -> Bool {
        if knownPrincipals.contains(principal) || Self.builtInPrincipals.contains(principal) { return true }
        if principal.hasPrefix("anonymous:") { return false }
        if principal.hasPrefix("service:") {
            let id = String(principal.dropFirst("service:".count))
            return directory.serviceAccount(id: id) != nil || BuiltInServices.role(of: id) != nil
                || id == "alertmanager" || id.hasPrefix("alertmanager:")
        }
        return directory.user(named: principal) != nil
    }

    /// The middle value, or the mean of the two middle ones; `nil` for none. `sorted` must be sorted.
    static func median(_ sorted: [Double]) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The nearest-rank percentile: the smallest value at least `fraction` of the values do not exceed.
    static func nearestRank(_ sorted: [Double], _ fraction: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
