import Crypto
import Foundation
import Tracing
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
    /// An earlier attempt under the same execution key acted already (or started to): not again.
    case repeated(ExecutionRecord)
}

/// An execution key (an API `Idempotency-Key`) used again for a different tool, target or
/// arguments than the call it was first used with: refused, nothing runs or is replayed.
public struct ExecutionKeyReused: Error, Sendable, CustomStringConvertible {
    public var key: String

    public init(key: String) {
        self.key = key
    }

    public var description: String { "the execution key \(key) was first used for a different call; a new call needs a new key" }
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
    /// An approved request must start within this long of its approval, or it expires unrun.
    let executeWithin: Duration
    /// The clock every decision uses (tests move it across a schedule's edge).
    let now: @Sendable () -> Date

    public init(policies: PolicySet, store: any Store, agents: [any Agent], inventory: Infrastructure, directory: UserDirectory,
                redactor: Redactor, defaultTTL: Duration, toolTimeout: Duration, notifiers: [any ApprovalNotifier] = [],
                executeWithin: Duration = .seconds(600), now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.notifiers = notifiers
        self.executeWithin = executeWithin
        self.now = now
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

    /// A known user with their roles, a service account (`service:ID`) with the roles of its users-file
    /// entry, or the principal as given.
    public func principal(named name: String) -> Principal {
        Self.principal(named: name, in: directory)
    }

    /// ``principal(named:)`` against `directory`, for commands that decide without a running gate (govexplain).
    public static func principal(named name: String, in directory: UserDirectory) -> Principal {
        if name.hasPrefix("service:") {
            // A service account of the users file acts with its roles; the built-in bots have none here.
            let id = String(name.dropFirst("service:".count))
            return Principal(id: id, kind: .service, roles: directory.serviceAccount(id: id)?.roles ?? [])
        }
        guard let user = directory.user(named: name) else { return Principal(id: name) }
        return Principal(id: user.name, roles: user.roles)
    }

    /// The agent offering `name`, and the tool's descriptor.
    func tool(named name: String) -> (any Agent, ToolDescriptor)? {
        for agent in agents {
            if let descriptor = agent.tools.first(where: { $0.name == name }) { return (agent, descriptor) }
        }
        return nil
    }

    /// The resource a call touches, with the inventory's tags and sensitivity (`pii` on a database
    /// reaches a Kubernetes call about its pods too: they hold the same data, whether the call
    /// names the database or the cluster and namespace its pods run in).
    public func resource(for call: ToolCall) -> Resource {
        let agent = tool(named: call.tool)?.0.name
        // A silence acts on the receiver's Alertmanager, never on the database or cluster the alert
        // is about, even when a receiver shares an inventory name.
        if agent == "alertmanager" { return Resource(type: .alertmanager, name: call.target) }
        if agent == "kubernetes" {
            if let cluster = inventory.k8sClusters.first(where: { $0.id == call.target }) {
                let namespace = call.arguments["namespace"]?.description
                return Resource(type: .kubernetes, name: cluster.id, tags: cluster.tags,
                                sensitivity: Array(Set(cluster.sensitivity + podSensitivity(cluster: cluster.id, namespace: namespace))).sorted(),
                                namespace: namespace)
            }
            if let database = inventory.dbServers.first(where: { $0.id == call.target }), let clusterID = database.k8sCluster {
                let cluster = inventory.k8sClusters.first { $0.id == clusterID }
                let namespace = call.arguments["namespace"]?.description ?? database.k8sNamespace
                let classes = (cluster?.sensitivity ?? []) + inventory.sensitivity(of: database.id) + podSensitivity(cluster: clusterID, namespace: namespace)
                return Resource(type: .kubernetes, name: clusterID, tags: cluster?.tags ?? [], sensitivity: Array(Set(classes)).sorted(),
                                namespace: namespace)
            }
        }
        if let database = inventory.dbServers.first(where: { $0.id == call.target }) {
            return Resource(type: .database, name: database.id, tags: database.tags, sensitivity: inventory.sensitivity(of: database.id))
        }
        if let vm = inventory.vms.first(where: { $0.id == call.target }) {
            return Resource(type: .host, name: vm.id, tags: vm.tags, sensitivity: vm.sensitivity)
        }
        return Resource(type: agent == "kubernetes" ? .kubernetes : .database, name: call.target)
    }

    /// The data classes of every database whose pods run in `namespace` on the cluster `clusterID`.
    /// Fails closed: without a namespace, every database on the cluster counts, and so does one
    /// that names the cluster but not its namespace.
    func podSensitivity(cluster clusterID: String, namespace: String?) -> [String] {
        inventory.dbServers
            .filter { database in
                database.k8sCluster == clusterID && (namespace == nil || database.k8sNamespace == nil || database.k8sNamespace == namespace)
            }
            .flatMap { inventory.sensitivity(of: $0.id) }
    }

    /// The decision alone, without acting or recording. `impact` is what the call would change
    /// (``measure(_:agent:)``); `nil` where it is unknown, which a `max_*` limit refuses.
    public func decide(_ call: ToolCall, by principal: Principal, impact: ToolImpact?, purpose: String? = nil,
                       at: Date? = nil) throws -> (Decision, ToolDescriptor, any Agent) {
        guard let (agent, descriptor) = tool(named: call.tool) else { throw ToolError("no agent offers the tool \(call.tool)") }
        let touched = resource(for: call)
        let request = ActionRequest(principal: principal, resource: touched, tool: call.tool, action: descriptor.action,
                                    rowsAffected: impact?.rows, podsAffected: impact?.pods,
                                    transactionAgeSeconds: impact?.transactionAgeSeconds, purpose: purpose, at: at ?? now(),
                                    approvalOverrideRoles: approvalOverrideRoles(of: touched))
        return (policies.engine.decide(request), descriptor, agent)
    }

    /// The inventory's `approval_override_roles` of the database `resource` is: who approves there
    /// when a rule names no approvers. Only a decision on the database itself; a call on its pods is
    /// decided on the cluster, whose approvers the policies name.
    func approvalOverrideRoles(of resource: Resource) -> [String] {
        Self.approvalOverrideRoles(of: resource, in: inventory)
    }

    public static func approvalOverrideRoles(of resource: Resource, in inventory: Infrastructure) -> [String] {
        guard resource.type == .database else { return [] }
        return inventory.dbServers.first { $0.id == resource.name }?.approvalOverrideRoles ?? []
    }

    /// What `call` would change, as its agent says; `nil` when it cannot tell (the read failed).
    /// The session it names is redacted here, as tool output is: its statement is another user's SQL,
    /// and it reaches the audit log and approvers.
    func measure(_ call: ToolCall, agent: any Agent) async -> ToolImpact? {
        do {
            var impact = try await withTimeout(toolTimeout) { try await agent.impact(of: call) }
            impact.session = impact.session?.redacted(by: redactor)
            return impact
        } catch {
            logger.notice("cannot measure what a call would change", metadata: ["tool": "\(call.tool)", "error": "\(error)"])
            return nil
        }
    }

    /// Passes one action through the gate: measured, decided as `principal`, audited, then run,
    /// refused, or opened as an approval request for the pinned call.
    ///
    /// `executionKey` names one invocation (a Slack command's job, an API `Idempotency-Key`): a
    /// write already done, started or sent for approval under it is not acted on again — the
    /// earlier outcome is returned, or its approval request.
    ///
    /// `origin` names the incident and finding that recommended the call (a diagnosis's Run button):
    /// an approval request shows it to approvers when that incident is about the call's target.
    public func request(_ call: ToolCall, by principal: Principal, purpose: String? = nil, origin: ApprovalOrigin? = nil,
                        via: String, executionKey: String? = nil) async throws -> GateOutcome {
        guard let (_, descriptor) = tool(named: call.tool) else { throw ToolError("no agent offers the tool \(call.tool)") }
        if let problem = descriptor.validate(call.arguments) { throw ToolError(problem) }
        guard let executionKey, descriptor.action != .read else {
            return try await decideAndAct(call, descriptor: descriptor, by: principal, purpose: purpose, origin: origin, via: via)
        }
        let fingerprint = Self.fingerprint(of: call)
        if let earlier = try await store.executions.claim(key: executionKey, principal: principal.description, fingerprint: fingerprint, now: now()) {
            // A key names one call: reused for another, it must not answer with the first call's result.
            if let first = earlier.fingerprint, first != fingerprint { throw ExecutionKeyReused(key: executionKey) }
            if earlier.state == .pendingApproval, let id = earlier.approvalID, let record = try await store.approvals.approval(id: id),
               let decision = record.policyDecision {
                return .pendingApproval(record, decision)
            }
            return .repeated(earlier)
        }
        let outcome: GateOutcome
        do {
            outcome = try await decideAndAct(call, descriptor: descriptor, by: principal, purpose: purpose, origin: origin, via: via)
        } catch {
            try? await store.executions.finish(key: executionKey, state: .failed, approvalID: nil,
                                               result: .object(["error": .string(redactor.redact("\(error)"))]), now: now())
            throw error
        }
        switch outcome {
        case .ran(let output, _):
            try await store.executions.finish(key: executionKey, state: .succeeded, approvalID: nil, result: output, now: now())
        case .failed(let error, _):
            try await store.executions.finish(key: executionKey, state: .failed, approvalID: nil, result: .object(["error": .string(error)]), now: now())
        case .denied(let decision):
            try await store.executions.finish(key: executionKey, state: .failed, approvalID: nil, result: .object(["denied": .string(decision.reason)]),
                                              now: now())
        case .pendingApproval(let record, _):
            try await store.executions.finish(key: executionKey, state: .pendingApproval, approvalID: record.id, result: nil, now: now())
        case .repeated:
            break
        }
        return outcome
    }

    private func decideAndAct(_ call: ToolCall, descriptor: ToolDescriptor, by principal: Principal, purpose: String?,
                              origin: ApprovalOrigin?, via: String) async throws -> GateOutcome {
        guard let (agent, _) = tool(named: call.tool) else { throw ToolError("no agent offers the tool \(call.tool)") }
        let impact = descriptor.action == .read ? ToolImpact.none : await measure(call, agent: agent)
        let (decision, _, _) = try decide(call, by: principal, impact: impact, purpose: purpose)
        Self.countDecision(decision.effect)
        var eventData: [String: JSONValue] = ["call": callJSON(call, action: descriptor.action), "via": .string(via), "decision": encode(decision)]
        if let impact { eventData["impact"] = encode(impact) }
        // What purpose-based policies read, kept with the decision for govbot and govexplain.
        if let purpose { eventData["purpose"] = .string(purpose) }
        // Names this decision in the call it lets run, so a write matches the one decision that allowed it.
        let decisionID = "dec_" + randomToken(length: 16)
        eventData["decision_id"] = .string(decisionID)
        let decisionEvent = AuditDraft(kind: "policy_decision", principal: principal.description, target: call.target, data: .object(eventData))
        switch decision.effect {
        case .deny:
            try await store.apply(ChangeSet(audit: [decisionEvent]))
            return .denied(decision)
        case .allow:
            try await store.apply(ChangeSet(audit: [decisionEvent]))
            return await run(call, descriptor: descriptor, agent: agent, principal: principal.description, decision: decision, approvalID: nil,
                             decisionID: decisionID)
        case .requireApproval:
            // What the approvers see is what runs: the call pinned to the session or object it names now.
            let pinned: ToolCall
            do {
                let fresh = try await withTimeout(toolTimeout) { try await agent.pin(call) }
                pinned = redactingPinnedArguments(fresh, asked: call)
            } catch {
                try await store.apply(ChangeSet(audit: [decisionEvent]))
                throw ToolError("cannot open an approval request: \(error)")
            }
            return try await openApproval(pinned, descriptor: descriptor, decision: decision, impact: impact, principal: principal,
                                          purpose: purpose, origin: origin, via: via, audit: decisionEvent)
        }
    }

    /// `pinned` with every string argument the pin added or changed passed through the redactor.
    /// They describe what the call acts on as read from the target — another session's SQL text
    /// among them — and approvers see them in Slack, email and on the approval page. Only identity
    /// arguments such as `backend_start` are checked when the call runs; they hold no secrets, and
    /// should redaction ever change one, the run refuses on the mismatch (fails closed).
    /// Arguments the requester gave are kept as given: they are what was asked for.
    func redactingPinnedArguments(_ pinned: ToolCall, asked call: ToolCall) -> ToolCall {
        var redacted = pinned
        for (name, value) in pinned.arguments where call.arguments[name] != value {
            if case .string(let text) = value { redacted.arguments[name] = .string(redactor.redact(text)) }
        }
        return redacted
    }

    private func openApproval(_ call: ToolCall, descriptor: ToolDescriptor, decision: Decision, impact: ToolImpact?, principal: Principal,
                              purpose: String?, origin: ApprovalOrigin?, via: String, audit decisionEvent: AuditDraft) async throws -> GateOutcome {
        let now = now()
        let ttl = decision.approvalTTLSeconds.map { Duration.milliseconds(Int64($0 * 1000)) } ?? defaultTTL
        let id = "apr_" + randomToken(length: 16)
        // The session is stored once, in the evidence.
        var storedImpact = impact
        storedImpact?.session = nil
        let request = ApprovalRequest(tool: call.tool, target: call.target, arguments: call.arguments, action: descriptor.action,
                                      resource: resource(for: call), purpose: purpose, via: via, impact: storedImpact)
        let checkedOrigin = await checked(origin, for: call)
        let evidence = ApprovalEvidence(request: request, origin: checkedOrigin, session: impact?.session)
        var created: [String: JSONValue] = [
            "call": callJSON(call, action: descriptor.action), "quorum": .number(Double(decision.quorum)),
            "approvers": .array(decision.approvers.map(JSONValue.string)), "expires_at": .string(now.addingTimeInterval(ttl.seconds).formatted(.iso8601)),
        ]
        if let checkedOrigin { created["incident"] = .string(checkedOrigin.incidentID) }
        let record = try await store.approvals.create(
            NewApproval(id: id, requester: principal.description, request: evidence.stored(in: encode(request)), decision: encode(decision),
                        quorum: decision.quorum, createdAt: now, expiresAt: now.addingTimeInterval(ttl.seconds)),
            audit: [decisionEvent, AuditDraft(kind: "approval_created", principal: principal.description, target: id, data: .object(created))])
        Self.countApproval("created")
        logger.info("approval requested", metadata: ["approval": "\(id)", "tool": "\(call.tool)", "target": "\(call.target)"])
        await notify { $0.opened(record, decision: decision) }
        return .pendingApproval(record, decision)
    }

    func run(_ call: ToolCall, descriptor: ToolDescriptor, agent: any Agent, principal: String, decision: Decision?, approvalID: String?,
             decisionID: String? = nil) async -> GateOutcome {
        // One span per call that passed the gate: the tool, its target and how it ended; never its arguments.
        await withSpan("tool \(call.tool)", ofKind: .client) { span in
            span.attributes["helpdesk.tool"] = call.tool
            span.attributes["helpdesk.tool.action"] = descriptor.action.rawValue
            span.setRedacted("helpdesk.target", call.target, redactor: redactor)
            span.setRedacted("helpdesk.principal", principal, redactor: redactor)
            span.setRedacted("helpdesk.approval_id", approvalID, redactor: redactor)
            let outcome = await runTraced(call, descriptor: descriptor, agent: agent, principal: principal, decision: decision,
                                          approvalID: approvalID, decisionID: decisionID)
            switch outcome {
            case .failed:
                span.attributes["helpdesk.outcome"] = "error"
                span.failed()
            default:
                span.attributes["helpdesk.outcome"] = "ok"
            }
            return outcome
        }
    }

    private func runTraced(_ call: ToolCall, descriptor: ToolDescriptor, agent: any Agent, principal: String, decision: Decision?,
                           approvalID: String?, decisionID: String?) async -> GateOutcome {
        let started = ContinuousClock.now
        var outcome: GateOutcome
        var data: [String: JSONValue] = ["call": callJSON(call, action: descriptor.action)]
        if let approvalID { data["approval"] = .string(approvalID) }
        if let decisionID { data["decision_id"] = .string(decisionID) }
        let fallbackDecision = decision ?? Decision(effect: .allow, policy: nil, rule: nil, message: nil, reason: "approved", quorum: 0, approvers: [], approvalTTLSeconds: nil)
        do {
            // Redacted here, once, as the diagnosis path does: every consumer of a gated write or read
            // (Slack, the API, the executions table, approvals.result, the thread) gets this copy.
            let output = try await withTimeout(toolTimeout) { try await agent.run(call) }
            outcome = .ran(output: redactor.redact(output), decision: fallbackDecision)
            data["outcome"] = .string("ok")
        } catch {
            outcome = .failed(error: redactor.redact("\(error)"), decision: fallbackDecision)
            data["outcome"] = .string("error")
            data["error"] = .string(redactor.redact("\(error)"))
        }
        Self.countToolCall(call.tool, failed: data["error"] != nil)
        data["milliseconds"] = .number(Double((ContinuousClock.now - started).nanoseconds / 1_000_000))
        do {
            try await store.apply(ChangeSet(audit: [AuditDraft(kind: "tool_call", principal: principal, target: call.target, data: .object(data))]))
        } catch {
            logger.error("cannot write the audit event of a tool call", metadata: ["tool": "\(call.tool)", "error": "\(error)"])
        }
        return outcome
    }

    /// SHA-256 (hex) of the call's tool, target and arguments as canonical JSON (sorted keys): what
    /// an execution key is tied to when it is first used.
    static func fingerprint(of call: ToolCall) -> String {
        let canonical = JSONValue.object(["tool": .string(call.tool), "target": .string(call.target), "arguments": .object(call.arguments)]).jsonText
        return SHA256.hash(data: Data(canonical.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The call as the audit log keeps it: arguments passed through the redactor.
    func callJSON(_ call: ToolCall, action: ActionClass) -> JSONValue {
        .object([
            "tool": .string(call.tool), "target": .string(call.target), "action": .string(action.rawValue),
            "arguments": .object(call.arguments.mapValues { value in
                if case .string(let text) = value { return .string(redactor.redact(text)) }
                return value
            }),
        ])
    }

    func encode(_ value: some Encodable) -> JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))) ?? .null
    }
}
