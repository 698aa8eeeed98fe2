import Foundation
import HelpdeskAgents
import HelpdeskCore

/// What an action would touch, as policy sees it.
public struct Resource: Sendable, Equatable, Codable {
    public var type: ResourceType
    public var name: String
    public var tags: [String]
    public var sensitivity: [String]
    public var namespace: String?

    public init(type: ResourceType, name: String, tags: [String] = [], sensitivity: [String] = [], namespace: String? = nil) {
        self.type = type
        self.name = name
        self.tags = tags
        self.sensitivity = sensitivity
        self.namespace = namespace
    }
}

/// One action to decide on.
public struct ActionRequest: Sendable, Codable {
    /// The purpose a diagnosis declares for its reads (runbooks and a model's reads), as aiHelpDesk's
    /// srebot declares it; a direct call (API, Slack, email) declares its own or none.
    public static let diagnosisPurpose = "diagnostic"

    public var principal: Principal
    public var resource: Resource
    public var tool: String
    public var action: ActionClass
    public var rowsAffected: Int?
    public var podsAffected: Int?
    /// Seconds the transaction of the session the call would end has been open with writes
    /// (``ToolImpact/transactionAgeSeconds``); `nil` when unknown.
    public var transactionAgeSeconds: Int?
    /// The declared purpose (diagnoses declare ``diagnosisPurpose``); `nil` when none was declared.
    public var purpose: String?
    public var at: Date
    /// Roles that approve when the deciding rule names no `approvers`: the database's
    /// `approval_override_roles` (aiHelpDesk lets those roles override approval; here they decide it).
    public var approvalOverrideRoles: [String]

    public init(principal: Principal, resource: Resource, tool: String, action: ActionClass, rowsAffected: Int? = nil,
                podsAffected: Int? = nil, transactionAgeSeconds: Int? = nil, purpose: String? = nil, at: Date = Date(),
                approvalOverrideRoles: [String] = []) {
        self.principal = principal
        self.resource = resource
        self.tool = tool
        self.action = action
        self.rowsAffected = rowsAffected
        self.podsAffected = podsAffected
        self.transactionAgeSeconds = transactionAgeSeconds
        self.purpose = purpose
        self.at = at
        self.approvalOverrideRoles = approvalOverrideRoles
    }
}

/// The gate's answer: the effect, which policy and rule decided, and why, in words.
public struct Decision: Sendable, Equatable, Codable {
    public var effect: Effect
    /// `nil` when no policy matched (default deny).
    public var policy: String?
    /// Index of the deciding rule within its policy.
    public var rule: Int?
    public var message: String?
    public var reason: String
    public var quorum: Int
    public var approvers: [String]
    public var approvalTTLSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case effect, policy, rule, message, reason, quorum, approvers, approvalTTLSeconds = "approval_ttl_seconds"
    }
}

/// Evaluates requests against a set of policies: by priority (highest first, file order among
/// equals). The first policy whose principals and resources match and that has a rule for the
/// action decides: its first rule for the action whose schedule is active. When its only rules
/// that would allow (or allow with approval) are outside their schedule, it denies — a grant
/// limited to business hours must not fall through to a broader policy after hours. A policy with
/// no rule for the action, or whose only rules for it are scheduled denials now inactive (a change
/// freeze outside its window), leaves the decision to the next. Nothing matching denies.
public struct PolicyEngine: Sendable {
    public let policies: [Policy]

    public init(policies: [Policy]) {
        self.policies = policies.enumerated()
            .sorted { ($0.element.priority, -$0.offset) > ($1.element.priority, -$1.offset) }
            .map(\.element)
    }

    public func decide(_ request: ActionRequest) -> Decision {
        for policy in policies where policy.enabled {
            guard policy.principals.isEmpty || policy.principals.contains(where: { $0.matches(request.principal) }) else { continue }
            guard policy.resources.isEmpty || policy.resources.contains(where: { $0.matches(request.resource, tool: request.tool) }) else { continue }
            var closedGrant: Int?
            for (index, rule) in policy.rules.enumerated() where rule.actions.contains(request.action) {
                if let schedule = rule.conditions.schedule, !schedule.contains(request.at) {
                    if rule.effect != .deny, closedGrant == nil { closedGrant = index }
                    continue
                }
                return decision(policy, index, rule, request)
            }
            if let closedGrant {
                return Decision(effect: .deny, policy: policy.name, rule: closedGrant, message: nil,
                                reason: "policy \(policy.name) grants \(request.action.rawValue) only while its schedule is active (rule \(closedGrant + 1)), and it is not now; the first matching policy decides, so it is denied",
                                quorum: 0, approvers: [], approvalTTLSeconds: nil)
            }
        }
        return Decision(effect: .deny, policy: nil, rule: nil, message: nil,
                        reason: "no policy allows \(request.action.rawValue) on \(request.resource.type.rawValue) \(request.resource.name) for \(request.principal); nothing matched, so it is denied by default",
                        quorum: 0, approvers: [], approvalTTLSeconds: nil)
    }

    private func decision(_ policy: Policy, _ index: Int, _ rule: PolicyRule, _ request: ActionRequest) -> Decision {
        let conditions = rule.conditions
        let at = "policy \(policy.name), rule \(index + 1) (\(rule.actions.map(\.rawValue).joined(separator: "/")) → \(rule.effect.rawValue))"
        func deny(_ why: String) -> Decision {
            Decision(effect: .deny, policy: policy.name, rule: index, message: rule.message, reason: "\(why), by \(at)",
                     quorum: 0, approvers: [], approvalTTLSeconds: nil)
        }
        if rule.effect != .deny {
            if let allowed = conditions.allowedPurposes, !allowed.contains(request.purpose ?? "") {
                return deny("the purpose \(request.purpose.map { "\"\($0)\"" } ?? "(none given)") is not one of \(allowed.joined(separator: ", "))")
            }
            if let blocked = conditions.blockedPurposes, let purpose = request.purpose, blocked.contains(purpose) {
                return deny("the purpose \"\(purpose)\" is blocked")
            }
            // A limit the call cannot be measured against refuses: skipping it would fail open.
            if let limit = conditions.maxRowsAffected, request.action != .read {
                guard let rows = request.rowsAffected else { return deny("\(request.tool) cannot say how many rows it would affect (max_rows_affected \(limit))") }
                if rows > limit { return deny("it would affect \(rows) rows, over the limit of \(limit)") }
            }
            if let limit = conditions.maxPodsAffected, request.action != .read {
                guard let pods = request.podsAffected else { return deny("\(request.tool) cannot say how many pods it would affect (max_pods_affected \(limit))") }
                if pods > limit { return deny("it would affect \(pods) pods, over the limit of \(limit)") }
            }
            if let limit = conditions.maxTransactionAgeSeconds, request.action != .read {
                guard let age = request.transactionAgeSeconds else {
                    return deny("\(request.tool) cannot say how long the transaction of the session it would end has been open "
                                + "(max_xact_age_secs \(limit))")
                }
                if age > limit {
                    return deny("its transaction has been open \(Self.ageText(age)) with writes; rolling it back may take as long; "
                                + "the limit is \(Self.ageText(limit))")
                }
            }
        }
        let needsApproval = rule.effect == .requireApproval || (rule.effect == .allow && conditions.requireApproval == true)
        let effect: Effect = rule.effect == .deny ? .deny : needsApproval ? .requireApproval : .allow
        let scheduleNote = conditions.schedule == nil ? "" : " while its schedule is active"
        let reason: String
        switch effect {
        case .allow: reason = "allowed by \(at)\(scheduleNote)"
        case .deny: reason = "denied by \(at)\(scheduleNote)"
        case .requireApproval:
            let who: String
            if !conditions.approvers.isEmpty {
                who = conditions.approvers.map(\.description).joined(separator: ", ")
            } else if !request.approvalOverrideRoles.isEmpty {
                who = request.approvalOverrideRoles.map { PrincipalMatcher.role($0).description }.joined(separator: ", ")
                    + " (the rule names no approvers, so the approval_override_roles of \(request.resource.type.rawValue) "
                    + "\(request.resource.name) decide)"
            } else {
                who = "anyone but the requester"
            }
            reason = "needs \(conditions.approvalQuorum ?? 1) approval(s) from \(who), by \(at)\(scheduleNote)"
        }
        let approvers = conditions.approvers.isEmpty ? request.approvalOverrideRoles.map(PrincipalMatcher.role) : conditions.approvers
        return Decision(effect: effect, policy: policy.name, rule: index, message: rule.message, reason: reason,
                        quorum: effect == .requireApproval ? (conditions.approvalQuorum ?? 1) : 0,
                        approvers: effect == .requireApproval ? approvers.map(\.encoded) : conditions.approvers.map(\.encoded),
                        approvalTTLSeconds: conditions.approvalTTL?.seconds)
    }
}

extension PolicyEngine {
    /// Seconds as aiHelpDesk words a transaction's age: "2h 5m", "4m 10s", "45s".
    static func ageText(_ seconds: Int) -> String {
        if seconds >= 3600 { return "\(seconds / 3600)h \(seconds % 3600 / 60)m" }
        if seconds >= 60 { return "\(seconds / 60)m \(seconds % 60)s" }
        return "\(seconds)s"
    }
}

extension PrincipalMatcher {
    /// The string form `approvers` lists use: `alice`, `role:dba`, `service:srebot`, `*`. A several-key
    /// entry has none of its own: `approvers` holds its members one by one (``members``), so a decision
    /// never carries one; here its members' forms are joined for display, which reads back as no one.
    public var encoded: String {
        switch self {
        case .any: "*"
        case .user(let id): id
        case .role(let role): "role:\(role)"
        case .service(let id): "service:\(id)"
        case .anyOf(let members): members.map(\.encoded).joined(separator: " | ")
        }
    }
}
