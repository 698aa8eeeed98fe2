import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore

/// A fixed set of requests decided under the policies before and after a reload, so a reload that
/// widened access is written down (and secbot reports it as `policy_widened`).
///
/// The calls are every tool of the server on every inventory target plus one target no inventory
/// entry names (what a wildcard or a `name_pattern` rule reaches); the principals are the kinds the
/// engine tells apart: anonymous, a person with no role, one person per role and per user the old or
/// new policies name (in `principals` or `approvers`), each service they name, and `service:srebot`.
///
/// ```swift
/// let widened = governance.policyProbes().widened(from: before, to: after)
/// widened.first?.probe   // "role:oncall terminate_backend orders-db"
/// ```
public struct PolicyProbes: Sendable {
    /// One call as policy sees it, without the principal.
    public struct Call: Sendable {
        public var tool: String
        public var action: ActionClass
        public var resource: Resource
        /// The target as the probe names it (`*` for the one no inventory entry names).
        public var target: String
        public var approvalOverrideRoles: [String]

        public init(tool: String, action: ActionClass, resource: Resource, target: String, approvalOverrideRoles: [String] = []) {
            self.tool = tool
            self.action = action
            self.resource = resource
            self.target = target
            self.approvalOverrideRoles = approvalOverrideRoles
        }
    }

    /// A probe whose decision got more permissive: deny → approval or allow, approval → allow, or a lower quorum.
    public struct Widening: Sendable, Equatable, Codable {
        public var probe: String
        public var before: String
        public var after: String

        public init(probe: String, before: String, after: String) {
            self.probe = probe
            self.before = before
            self.after = after
        }
    }

    /// The target name standing for "anything the inventory does not list".
    public static let unlistedTarget = "*"

    public var calls: [Call]

    public init(calls: [Call]) {
        self.calls = calls
    }

    /// Each probe whose decision under `new` is more permissive than under `old`, in a stable order.
    /// Small impacts (one row, one pod, a fresh transaction) are assumed, so `max_*` limits let the probe through.
    public func widened(from old: PolicyEngine, to new: PolicyEngine, at: Date = Date()) -> [Widening] {
        var widened: [Widening] = []
        for principal in Self.principals(old.policies + new.policies) {
            for call in calls {
                let request = ActionRequest(principal: principal, resource: call.resource, tool: call.tool, action: call.action,
                                            rowsAffected: 1, podsAffected: 1, transactionAgeSeconds: 0,
                                            purpose: principal == .alertBot ? ActionRequest.diagnosisPurpose : nil, at: at,
                                            approvalOverrideRoles: call.approvalOverrideRoles)
                let before = old.decide(request), after = new.decide(request)
                guard Self.isWider(after, than: before) else { continue }
                widened.append(Widening(probe: "\(Self.label(principal)) \(call.tool) \(call.target)",
                                        before: Self.text(before), after: Self.text(after)))
            }
        }
        return widened
    }

    /// Whether `after` lets more through than `before`.
    static func isWider(_ after: Decision, than before: Decision) -> Bool {
        func rank(_ effect: Effect) -> Int {
            switch effect {
            case .deny: 0
            case .requireApproval: 1
            case .allow: 2
            }
        }
        if rank(after.effect) != rank(before.effect) { return rank(after.effect) > rank(before.effect) }
        return after.effect == .requireApproval && after.quorum < before.quorum
    }

    static func text(_ decision: Decision) -> String {
        decision.effect == .requireApproval ? "require_approval (quorum \(decision.quorum))" : decision.effect.rawValue
    }

    /// How a probe's principal is named: as policies write it (`role:dba`, `service:srebot`, `alice`).
    static func label(_ principal: Principal) -> String {
        switch principal.kind {
        case .anonymous: "anonymous"
        case .service: "service:\(principal.id)"
        case .user: principal.roles.first.map { "role:\($0)" } ?? principal.id
        }
    }

    /// The principals the policies tell apart, one of each, in a stable order.
    static func principals(_ policies: [Policy]) -> [Principal] {
        var roles = Set<String>(), users = Set<String>(), services: Set<String> = [BuiltInServices.alertBot]
        func collect(_ matcher: PrincipalMatcher) {
            for member in matcher.members {
                switch member {
                case .role(let role): roles.insert(role)
                case .user(let user): users.insert(user)
                case .service(let service): services.insert(service)
                case .any, .anyOf: break
                }
            }
        }
        for policy in policies {
            policy.principals.forEach(collect)
            for rule in policy.rules { rule.conditions.approvers.forEach(collect) }
        }
        // A person with no role: what `any: true` and policies naming no principals reach.
        var principals = [Principal.anonymous, Principal(id: "probe-user")]
        principals += roles.sorted().map { Principal(id: "probe-\($0)", roles: [$0]) }
        principals += users.sorted().map { Principal(id: $0) }
        principals += services.sorted().map { Principal(id: $0, kind: .service) }
        return principals
    }
}

extension Governance {
    /// Every tool of this server on every inventory target and on one the inventory does not list,
    /// each as ``resource(for:)`` sees it: the calls a reload's ``PolicyProbes`` decide.
    public func policyProbes() -> PolicyProbes {
        let targets = inventory.dbServers.map(\.id) + inventory.k8sClusters.map(\.id) + inventory.vms.map(\.id)
            + [PolicyProbes.unlistedTarget]
        var calls: [PolicyProbes.Call] = []
        for agent in agents {
            for descriptor in agent.tools {
                for target in targets {
                    let resource = resource(for: ToolCall(tool: descriptor.name, target: target, arguments: [:]))
                    calls.append(PolicyProbes.Call(tool: descriptor.name, action: descriptor.action, resource: resource, target: target,
                                                   approvalOverrideRoles: approvalOverrideRoles(of: resource)))
                }
            }
        }
        return PolicyProbes(calls: calls)
    }
}
