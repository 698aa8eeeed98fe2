import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore
import Logging

/// What happened to a requested action.
public enum GateOutcome: Sendable {
    case ran(output: JSONValue, decision: Decision)
    case failed(error: String, decision: Decision)
    case denied(Decision)
    case pendingApproval(ApprovalRecord, Decision)
}

/// What a vote did, worded for whoever voted.
public enum VoteResult: Sendable, Equatable {
    case recorded(ApprovalRecord, remaining: Int)
    case approved(ApprovalRecord)
    case denied(ApprovalRecord)
    case refused(String)
    case alreadyDecided(ApprovalRecord)
    case expired(ApprovalRecord)
    case notFound(String)

    public var message: String {
        switch self {
        case .recorded(let record, let remaining): "approval recorded for \(record.id); \(remaining) more needed"
        case .approved(let record): "\(record.id) approved; it runs now"
        case .denied(let record): "\(record.id) denied"
        case .refused(let why): why
        case .alreadyDecided(let record):
            "already decided: \(record.status.rawValue) by \(record.decidedBy ?? "expiry"), at \(record.decidedAt.map { $0.formatted(.iso8601) } ?? "?")"
        case .expired(let record): "\(record.id) expired at \(record.expiresAt.formatted(.iso8601)); nothing will run"
        case .notFound(let id): "no approval request \(id)"
        }
    }
}

/// Tells people about approval requests (the Slack channel, email): what to record when a
/// request opens and when it is decided. Its writes are applied right after the state change.
public protocol ApprovalNotifier: Sendable {
    func opened(_ record: ApprovalRecord, decision: Decision) -> ChangeSet
    func decided(_ record: ApprovalRecord, summary: String) -> ChangeSet
}

/// The one gate every tool call passes: decide by policy, record the decision in the audit log,
/// then run, refuse, or open an approval request. Approved requests run exactly once, with the
/// exact tool and arguments that were approved.
public struct Governance: Sendable {
    public static let executeJobKind = "approval.execute"

    let policies: PolicySet
    let store: any Store
    let agents: [any Agent]
    let inventory: Infrastructure
    let directory: UserDirectory
    let redactor: Redactor
    let defaultTTL: Duration
    let toolTimeout: Duration
    let logger: Logger
    let notifiers: [any ApprovalNotifier]

    public init(policies: PolicySet, store: any Store, agents: [any Agent], inventory: Infrastructure, directory: UserDirectory,
                redactor: Redactor, defaultTTL: Duration, toolTimeout: Duration, notifiers: [any ApprovalNotifier] = [], logger: Logger) {
        self.notifiers = notifiers
        self.policies = policies
        self.store = store
        self.agents = agents
        self.inventory = inventory
        self.directory = directory
        self.redactor = redactor
        self.defaultTTL = defaultTTL
        self.toolTimeout = toolTimeout
        self.logger = logger
    }

    /// A known user with their roles, or the principal as given.
    public func principal(named name: String) -> Principal {
        guard let user = directory.user(named: name) else { return Principal(id: name) }
        return Principal(id: user.name, roles: user.roles)
    }

    /// The resource a call touches, with the inventory's tags.
    public func resource(for call: ToolCall) -> Resource {
        let agent = agents.first { $0.tools.contains { $0.name == call.tool } }?.name
        if agent == "kubernetes" {
            if let cluster = inventory.k8sClusters.first(where: { $0.id == call.target }) {
                return Resource(type: .kubernetes, name: cluster.id, tags: cluster.tags, namespace: call.arguments["namespace"]?.description)
            }
            if let database = inventory.dbServers.first(where: { $0.id == call.target }), let clusterID = database.k8sCluster {
                let tags = inventory.k8sClusters.first { $0.id == clusterID }?.tags ?? []
                return Resource(type: .kubernetes, name: clusterID, tags: tags,
                                namespace: call.arguments["namespace"]?.description ?? database.k8sNamespace)
            }
        }
        if let database = inventory.dbServers.first(where: { $0.id == call.target }) {
            return Resource(type: .database, name: database.id, tags: database.tags)
        }
        if let vm = inventory.vms.first(where: { $0.id == call.target }) {
            return Resource(type: .host, name: vm.id, tags: vm.tags)
        }
        return Resource(type: agent == "kubernetes" ? .kubernetes : .database, name: call.target)
    }

    /// The decision alone, without acting or recording: what a caller may be offered.
    public func decide(_ call: ToolCall, by principal: Principal, purpose: String? = nil, at: Date = Date()) throws -> (Decision, ToolDescriptor, any Agent) {
        guard let agent = agents.first(where: { $0.tools.contains { $0.name == call.tool } }),
              let descriptor = agent.tools.first(where: { $0.name == call.tool }) else {
            throw ToolError("no agent offers the tool \(call.tool)")
        }
        let request = ActionRequest(principal: principal, resource: resource(for: call), tool: call.tool, action: descriptor.action,
                                    rowsAffected: call.integer("rows_affected").map(Int.init), podsAffected: call.integer("pods_affected").map(Int.init),
                                    purpose: purpose, at: at)
        return (policies.engine.decide(request), descriptor, agent)
    }

    /// Passes one call through the gate.
    public func request(_ call: ToolCall, by principal: Principal, purpose: String? = nil, via: String) async throws -> GateOutcome {
        let (decision, descriptor, agent) = try decide(call, by: principal, purpose: purpose)
        if let problem = descriptor.validate(call.arguments) { throw ToolError(problem) }
        let decisionEvent = AuditDraft(kind: "policy_decision", principal: principal.description, target: call.target, data: .object([
            "call": callJSON(call, action: descriptor.action), "via": .string(via), "decision": encode(decision),
        ]))
        switch decision.effect {
        case .deny:
            try await store.apply(ChangeSet(audit: [decisionEvent]))
            return .denied(decision)
        case .allow:
            try await store.apply(ChangeSet(audit: [decisionEvent]))
            return await run(call, descriptor: descriptor, agent: agent, principal: principal.description, decision: decision, approvalID: nil)
        case .requireApproval:
            let now = Date()
            let ttl = decision.approvalTTLSeconds.map { Duration.milliseconds(Int64($0 * 1000)) } ?? defaultTTL
            let id = "apr_" + randomToken(length: 16)
            let requestJSON: JSONValue = .object([
                "tool": .string(call.tool), "target": .string(call.target), "arguments": .object(call.arguments),
                "action": .string(descriptor.action.rawValue), "resource": encode(resource(for: call)),
                "purpose": purpose.map(JSONValue.string) ?? .null, "via": .string(via),
            ])
            let record = try await store.approvals.create(
                NewApproval(id: id, requester: principal.description, request: requestJSON, decision: encode(decision), quorum: decision.quorum,
                            createdAt: now, expiresAt: now.addingTimeInterval(ttl.seconds)),
                audit: [decisionEvent, AuditDraft(kind: "approval_created", principal: principal.description, target: id, data: .object([
                    "call": callJSON(call, action: descriptor.action), "quorum": .number(Double(decision.quorum)),
                    "approvers": .array(decision.approvers.map(JSONValue.string)), "expires_at": .string(now.addingTimeInterval(ttl.seconds).formatted(.iso8601)),
                ]))])
            logger.info("approval requested", metadata: ["approval": "\(id)", "tool": "\(call.tool)", "target": "\(call.target)"])
            await notify { $0.opened(record, decision: decision) }
            return .pendingApproval(record, decision)
        }
    }

    /// Records a vote by `principal` after checking they may cast it.
    public func vote(on id: String, by principal: Principal, approve: Bool, reason: String?, via: String) async throws -> VoteResult {
        guard let record = try await store.approvals.approval(id: id) else { return .notFound(id) }
        if record.status != .pending { return .alreadyDecided(record) }
        if principal.kind == .anonymous {
            return .refused("only known users may decide approval requests; ask an administrator to add you under users:")
        }
        if principal.description == record.requester {
            return .refused("\(principal) asked for \(id) and cannot decide it; another approver must")
        }
        let approvers = (record.decision["approvers"]?.arrayValue ?? []).map { PrincipalMatcher.parse($0.description) }
        if !approvers.isEmpty, !approvers.contains(where: { $0.matches(principal) }) {
            return .refused("\(principal) is not among the approvers of \(id) (\(approvers.map(\.description).joined(separator: ", ")))")
        }
        let job = NewJob(kind: Self.executeJobKind, payload: JSONValue.object(["approval_id": .string(id)]).jsonText, dedupKey: "approval-execute:\(id)",
                         maxAttempts: 3)
        switch try await store.approvals.vote(id: id, principal: principal.description, choice: approve ? .approve : .deny, reason: reason,
                                              via: via, now: Date(), execute: job) {
        case .recorded(let updated):
            let approvals = updated.votes.filter { $0.vote == .approve }.count
            return .recorded(updated, remaining: max(0, updated.quorum - approvals))
        case .approved(let updated):
            await notify { $0.decided(updated, summary: "approved by \(updated.decidedBy ?? "?"); running now") }
            return .approved(updated)
        case .denied(let updated):
            await notify { $0.decided(updated, summary: "denied by \(updated.decidedBy ?? "?")") }
            return .denied(updated)
        case .alreadyDecided(let updated): return .alreadyDecided(updated)
        case .expired(let updated): return .expired(updated)
        case .alreadyVoted: return .refused("\(principal) has already voted on \(id); each approver counts once")
        case .notFound: return .notFound(id)
        }
    }

    /// Applies what the notifiers want written; a failure is logged, never fails the decision.
    private func notify(_ changes: (any ApprovalNotifier) -> ChangeSet) async {
        for notifier in notifiers {
            do {
                try await store.apply(changes(notifier))
            } catch {
                logger.error("cannot queue an approval notification", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Runs an approved request: once, with exactly the approved tool and arguments.
    /// `retryingAfterInterruption` is set when an earlier attempt of the execution job died: a
    /// request still marked running is then closed as interrupted, never run a second time.
    public func executeApproved(_ id: String, retryingAfterInterruption: Bool = false) async throws -> JSONValue {
        guard let record = try await store.approvals.claimExecution(id: id, now: Date()) else {
            guard let current = try await store.approvals.approval(id: id) else { return .string("no approval \(id)") }
            if current.execution == "running", retryingAfterInterruption {
                let result: JSONValue = .object(["error": .string("interrupted before its result was recorded; not run again, so it never runs twice")])
                try await store.approvals.finishExecution(id: id, succeeded: false, result: result, now: Date())
                return result
            }
            return .string("\(id) has nothing to run (status \(current.status.rawValue), execution \(current.execution ?? "none"))")
        }
        let call = ToolCall(tool: record.request["tool"]?.description ?? "", target: record.request["target"]?.description ?? "",
                            arguments: { if case .object(let arguments)? = record.request["arguments"] { arguments } else { [:] } }())
        guard let agent = agents.first(where: { $0.tools.contains { $0.name == call.tool } }),
              let descriptor = agent.tools.first(where: { $0.name == call.tool }) else {
            let result: JSONValue = .object(["error": .string("no agent offers \(call.tool) any more")])
            try await store.approvals.finishExecution(id: id, succeeded: false, result: result, now: Date())
            return result
        }
        let decision = (try? JSONDecoder().decode(Decision.self, from: Data(record.decision.jsonText.utf8)))
        let outcome = await run(call, descriptor: descriptor, agent: agent, principal: record.requester, decision: decision, approvalID: id)
        switch outcome {
        case .ran(let output, _):
            try await store.approvals.finishExecution(id: id, succeeded: true, result: output, now: Date())
            if let finished = try await store.approvals.approval(id: id) {
                await notify { $0.decided(finished, summary: "ran: \(String(output.jsonText.prefix(300)))") }
            }
            return output
        case .failed(let error, _):
            let result: JSONValue = .object(["error": .string(error)])
            try await store.approvals.finishExecution(id: id, succeeded: false, result: result, now: Date())
            if let finished = try await store.approvals.approval(id: id) {
                await notify { $0.decided(finished, summary: "failed: \(error)") }
            }
            return result
        case .denied, .pendingApproval:
            return .null
        }
    }

    private func run(_ call: ToolCall, descriptor: ToolDescriptor, agent: any Agent, principal: String, decision: Decision?, approvalID: String?) async -> GateOutcome {
        let started = ContinuousClock.now
        var outcome: GateOutcome
        var data: [String: JSONValue] = ["call": callJSON(call, action: descriptor.action)]
        if let approvalID { data["approval"] = .string(approvalID) }
        let fallbackDecision = decision ?? Decision(effect: .allow, policy: nil, rule: nil, message: nil, reason: "approved", quorum: 0, approvers: [], approvalTTLSeconds: nil)
        do {
            let output = try await withTimeout(toolTimeout) { try await agent.run(call) }
            outcome = .ran(output: output, decision: fallbackDecision)
            data["outcome"] = .string("ok")
        } catch {
            outcome = .failed(error: redactor.redact("\(error)"), decision: fallbackDecision)
            data["outcome"] = .string("error")
            data["error"] = .string(redactor.redact("\(error)"))
        }
        data["milliseconds"] = .number(Double((ContinuousClock.now - started).nanoseconds / 1_000_000))
        do {
            try await store.apply(ChangeSet(audit: [AuditDraft(kind: "tool_call", principal: principal, target: call.target, data: .object(data))]))
        } catch {
            logger.error("cannot write the audit event of a tool call", metadata: ["tool": "\(call.tool)", "error": "\(error)"])
        }
        return outcome
    }

    /// The call as the audit log keeps it: arguments passed through the redactor.
    private func callJSON(_ call: ToolCall, action: ActionClass) -> JSONValue {
        .object([
            "tool": .string(call.tool), "target": .string(call.target), "action": .string(action.rawValue),
            "arguments": .object(call.arguments.mapValues { value in
                if case .string(let text) = value { return .string(redactor.redact(text)) }
                return value
            }),
        ])
    }

    private func encode(_ value: some Encodable) -> JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))) ?? .null
    }
}
