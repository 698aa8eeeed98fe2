import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskHTTPClient
import HelpdeskJobs
import HelpdeskOrchestrator
import HelpdeskStore
import Logging

/// Everything a slash command may use.
public struct SlackCommandContext: Sendable {
    public var orchestrator: Orchestrator
    public var governance: Governance
    public var store: any Store
    public var directory: UserDirectory
    public var renderer: SlackRenderer
    public var commandName: String
    /// Kubernetes clusters of the inventory, for `k8s TOOL NAMESPACE` (which needs one, or `cluster=`).
    public var clusters: [String]

    /// The help message, rendered once: it is answered inline, and rendering the template on every
    /// request was most of the signed ack's CPU.
    public let helpMessage: JSONValue
    /// `helpMessage` as the JSON text of the response.
    public let helpMessageText: String

    public init(orchestrator: Orchestrator, governance: Governance, store: any Store, directory: UserDirectory, renderer: SlackRenderer,
                commandName: String, clusters: [String]) {
        self.clusters = clusters
        self.orchestrator = orchestrator
        self.governance = governance
        self.store = store
        self.directory = directory
        self.renderer = renderer
        self.commandName = commandName
        helpMessage = SlackViews.help(renderer, command: commandName, mode: orchestrator.modeDescription)
        helpMessageText = helpMessage.jsonText
    }

    /// The principal a Slack user acts as: a user listed under `users:` with this `slack_user_id`,
    /// else an anonymous principal that gets only what policy grants `any`.
    public func principal(slackUserID: String, teamID: String? = nil) -> Principal {
        if let user = directory.user(slackUserID: slackUserID, teamID: teamID) {
            return Principal(id: user.name, roles: user.roles)
        }
        return Principal(id: "slack:\(slackUserID)", kind: .anonymous)
    }
}

/// Runs one slash command (recorded and acknowledged by the HTTP handler), then queues the answer
/// for delivery in the same transaction as its completion, so a failed delivery is retried
/// without running the command again.
public struct SlackCommandJob: JobHandler {
    public static let kind = "slack.command"
    let context: SlackCommandContext

    public init(context: SlackCommandContext) {
        self.context = context
    }

    /// What a `slack.command` job carries: the signed command's fields the answer needs.
    struct Payload: JobPayload {
        var userID: String
        var teamID: String?
        var channelID: String?
        var text: String
        var responseURL: String

        enum CodingKeys: String, CodingKey {
            case text, userID = "user_id", teamID = "team_id", channelID = "channel_id", responseURL = "response_url"
        }
    }

    public static func job(_ command: SlashCommand) -> NewJob {
        let payload = Payload(userID: command.userID, teamID: command.teamID, channelID: command.channelID, text: command.text,
                              responseURL: command.responseURL)
        // Slack may deliver the same command twice; its trigger id names one invocation.
        return NewJob(kind: kind, payload: payload.jobText, dedupKey: command.triggerID.isEmpty ? nil : "slack-command:\(command.triggerID)", maxAttempts: 3)
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        let payload = try Payload.decode(job)
        let (responseURL, userID) = (payload.responseURL, payload.userID)
        let principal = context.principal(slackUserID: userID, teamID: payload.teamID)
        // The job's id names this invocation across retries: a write it started is never repeated.
        var thread: [OutboxMessage] = []
        let message = await answer(CommandRequest(text: payload.text), principal: principal,
                                   executionKey: "slack-command:\(job.id)", thread: &thread)
        let delivery = SlackResponseJob.job(responseURL: responseURL, message: message,
                                            channel: payload.channelID, user: userID)
        return JobOutcome(result: "answered", followUp: ChangeSet(jobs: [delivery], slackMessages: thread))
    }

    /// The message for one command, as Block Kit JSON; `thread` gets what goes in an alert's thread
    /// besides (a silence is told there). `via` names the door in the audit log: `slack`, or `web` for
    /// the web channel's command box, which answers with this same function.
    func answer(_ request: CommandRequest, principal: Principal, via: String = "slack", executionKey: String? = nil,
                thread: inout [OutboxMessage]) async -> JSONValue {
        let renderer = context.renderer
        do {
            switch request {
            case .help:
                return SlackViews.help(renderer, command: context.commandName, mode: context.orchestrator.modeDescription)
            case .diagnose(let target, let symptom):
                let diagnosis = await context.orchestrator.diagnose(DiagnosisRequest(target: target, symptom: symptom, principal: principal, via: via))
                return SlackViews.diagnosis(renderer, diagnosis)
            case .status:
                let stats = try await context.store.jobs.stats(now: Date())
                let pending = try await context.store.approvals.list(status: .pending, limit: 500).count
                return SlackViews.lines(renderer, title: "helpdesk status", lines: [
                    "diagnoses: \(context.orchestrator.modeDescription) mode",
                    "approval requests pending: \(pending)",
                    "jobs: \(stats.counts[.queued] ?? 0) queued, \(stats.counts[.running] ?? 0) running, \(stats.counts[.dead] ?? 0) dead",
                ])
            case .db(let tool, let target, let given), .k8s(let tool, let target, let given):
                // `purpose=WHY` declares the purpose policies' allowed_purposes read, as the API's X-Purpose does.
                var arguments = given
                let purpose = arguments.removeValue(forKey: "purpose")
                if let purpose, !Self.isPurpose(purpose) {
                    return SlackViews.error(renderer, "purpose= takes one word, such as remediation or emergency.")
                }
                var values = arguments.mapValues { text -> JSONValue in Double(text).map(JSONValue.number) ?? .string(text) }
                var callTarget = target
                if case .k8s = request {
                    values["namespace"] = .string(target)
                    values["cluster"] = nil
                    guard let cluster = arguments["cluster"] ?? (context.clusters.count == 1 ? context.clusters.first : nil) else {
                        return SlackViews.error(renderer, "Which cluster? Add cluster=NAME (known: \(context.clusters.joined(separator: ", "))).")
                    }
                    callTarget = cluster
                }
                let call = ToolCall(tool: tool, target: callTarget, arguments: values)
                switch try await context.governance.request(call, by: principal, purpose: purpose, via: via, executionKey: executionKey) {
                case .ran(let output, _):
                    return SlackViews.lines(renderer, title: "\(call.summary)", lines: ["```\(Mrkdwn.fitting(output.prettyJSONText, 2900))```"],
                                            inChannel: true)
                case .failed(let error, _):
                    return SlackViews.error(renderer, "\(call.summary) failed: \(error)")
                case .denied(let decision):
                    return SlackViews.error(renderer, "Not allowed: \(decision.message ?? decision.reason)", hint: decision.message == nil ? nil : decision.reason)
                case .pendingApproval(let record, let decision):
                    return SlackViews.approvalRequest(renderer, record, reason: decision.reason)
                case .repeated(let earlier):
                    return SlackViews.error(renderer, "\(call.summary) was already acted on for this command (\(earlier.state.rawValue)); not run again.")
                }
            case .incidents:
                let incidents = try await context.store.incidents.list(limit: 10)
                return SlackViews.lines(renderer, title: incidents.isEmpty ? "No incidents yet" : "Recent incidents",
                                        lines: incidents.map { "`\($0.id)` \($0.severity) — \($0.summary)" })
            case .incident(let id):
                guard let record = try await context.store.incidents.incident(id: id) else {
                    return SlackViews.error(renderer, "No incident \(id).", hint: "`\(context.commandName) incidents` lists recent ones.")
                }
                return SlackViews.lines(renderer, title: "Incident \(record.id)", lines: [
                    record.summary, "target `\(record.target)` · \(record.trigger) · \(record.findingCount) finding(s) · \(record.createdAt.formatted(.iso8601))",
                    "bundle: `\(record.bundlePath)` (\(record.bundleBytes) bytes)",
                ])
            case .approvals:
                let pending = try await context.store.approvals.list(status: .pending, limit: 20)
                return SlackViews.lines(renderer, title: pending.isEmpty ? "No approval requests are pending" : "Pending approval requests",
                                        lines: pending.map { "`\($0.id)` \(SlackViews.callSummary($0)) — by \($0.requester), \($0.votes.filter { $0.vote == .approve }.count)/\($0.quorum) approvals" })
            case .approve(let id, let reason), .deny(let id, let reason):
                var approve = false
                if case .approve = request { approve = true }
                let result = try await context.governance.vote(on: id, by: principal, approve: approve, reason: reason, via: via)
                return SlackViews.voteResult(renderer, result)
            case .explain(let eventID):
                guard let event = try await context.store.audit.event(id: eventID) else {
                    return SlackViews.error(renderer, "No audit event \(eventID).")
                }
                let data = (try? JSONValue(parsing: event.data)) ?? .null
                var lines = ["\(event.kind) by \(event.principal ?? "-") on \(event.target ?? "-") at \(event.at.formatted(.iso8601))"]
                if let decision = data["decision"] {
                    lines.append("decision: *\(decision["effect"]?.description ?? "?")* — \(decision["reason"]?.description ?? "")")
                }
                return SlackViews.lines(renderer, title: "Audit event \(event.id)", lines: lines)
            case .silence(let alert, let duration):
                let silenced = try await context.silence(alert, duration: duration, principal: principal, via: via,
                                                         executionKey: executionKey, inChannel: true)
                thread = silenced.thread
                return silenced.message
            case .unknown(let text):
                return SlackViews.error(renderer, "I did not understand \"\(truncated(text, 200))\".",
                                        hint: "Try `\(context.commandName) help`.")
            }
        } catch {
            return SlackViews.error(renderer, "Something went wrong: \(error)")
        }
    }

    /// A declared purpose is one short word (`remediation`, `fleet_rollout`): it lands in the audit log.
    static func isPurpose(_ text: String) -> Bool {
        (1...40).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") }
    }
}

/// Delivers one answer to a command's `response_url`, retried with backoff until it lands.
public struct SlackResponseJob: JobHandler {
    public static let kind = "slack.respond"
    let transport: any HTTPTransport

    public init(transport: any HTTPTransport) {
        self.transport = transport
    }

    /// `channel` and `user` let an answer reach its reader through the Web API when the
    /// `response_url` has expired (30 minutes) or is used up (5 uses).
    /// What a `slack.respond` job carries.
    struct Payload: JobPayload {
        var responseURL: String
        var message: JSONValue
        var channel: String?
        var user: String?

        enum CodingKeys: String, CodingKey {
            case message, channel, user, responseURL = "response_url"
        }
    }

    public static func job(responseURL: String, message: JSONValue, channel: String? = nil, user: String? = nil) -> NewJob {
        let payload = Payload(responseURL: responseURL, message: message, channel: channel?.isEmpty == false ? channel : nil, user: user)
        return NewJob(kind: kind, payload: payload.jobText, maxAttempts: 6)
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        let payload = try Payload.decode(job)
        guard let url = URL(string: payload.responseURL), case .object(var message) = payload.message else {
            throw JobFailure.permanent("slack.respond payload has no usable response_url or message")
        }
        // Some clients treat missing flags unexpectedly: always send both.
        message["replace_original"] = message["replace_original"] ?? .bool(false)
        message["delete_original"] = .bool(false)
        let reply = try await transport.postJSON(url, headers: [], body: Data(JSONValue.object(message).jsonText.utf8), timeout: .seconds(10))
        switch reply.status {
        case 200..<300:
            let sent = AuditDraft(kind: "message_sent", principal: nil, target: payload.channel, data: .object([
                "via": .string("slack-response-url"), "text": .string(truncated(message["text"]?.description ?? "", 200)),
            ]))
            return JobOutcome(result: "delivered", followUp: ChangeSet(audit: [sent]))
        case 404, 410:
            // Expired or used up: fall back to the Web API (the outbox) when we know where to post.
            guard let channel = payload.channel else {
                throw JobFailure.permanent("the response_url expired or was used up (HTTP \(reply.status)) and the channel is unknown")
            }
            let ephemeral = message["response_type"]?.description != "in_channel"
            var body: [String: JSONValue] = ["text": message["text"] ?? .string("")]
            if let blocks = message["blocks"] { body["blocks"] = blocks }
            if ephemeral, let user = payload.user { body["user"] = .string(user) }
            let fallback = OutboxMessage(channel: channel, method: ephemeral && body["user"] != nil ? .postEphemeral : .postMessage, body: .object(body))
            logger.notice("response_url no longer usable; sending through the Web API", metadata: ["status": "\(reply.status)"])
            return JobOutcome(result: "sent through the Web API", followUp: ChangeSet(slackMessages: [fallback]))
        default:
            throw SlackDeliveryError(status: reply.status, body: String(decoding: reply.body.prefix(200), as: UTF8.self))
        }
    }
}

struct SlackDeliveryError: Error, CustomStringConvertible {
    var status: Int
    var body: String
    var description: String { "Slack answered HTTP \(status): \(body)" }
}
