import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskJobs
import HelpdeskStore
import Logging

/// A button click from a message: approve or deny an approval request, run a recommended action,
/// or silence an alert from its group's root message.
public struct BlockAction: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case approve, deny, runAction = "run_action", silence }

    public var kind: Kind
    public var value: String
    public var userID: String
    public var teamID: String?
    public var responseURL: String
    public var actionTS: String

    /// Reads a `block_actions` interaction payload; `nil` for other payload types or unknown actions.
    public init?(payload: JSONValue) {
        guard payload["type"]?.description == "block_actions", let action = payload["actions"]?.arrayValue?.first,
              let kind = action["action_id"].flatMap({ Kind(rawValue: $0.description) }), let value = action["value"]?.description,
              let userID = payload.value(at: "user.id")?.description, let responseURL = payload["response_url"]?.description
        else { return nil }
        self.kind = kind
        self.value = value
        self.userID = userID
        self.teamID = payload.value(at: "user.team_id")?.description ?? payload.value(at: "team.id")?.description
        self.responseURL = responseURL
        self.actionTS = action["action_ts"]?.description ?? ""
    }
}

/// Acts on one button click through the gate, then queues the answer: a decided request replaces
/// the original message (so its buttons are gone and a second click is impossible); a refused or
/// stale click is answered only to the person who clicked.
public struct SlackInteractionJob: JobHandler {
    public static let kind = "slack.interaction"
    let context: SlackCommandContext

    public init(context: SlackCommandContext) {
        self.context = context
    }

    /// What a `slack.interaction` job carries: the click, as verified.
    struct Payload: JobPayload {
        var kind: BlockAction.Kind
        var value: String
        var userID: String
        var teamID: String?
        var responseURL: String

        enum CodingKeys: String, CodingKey {
            case kind, value, userID = "user_id", teamID = "team_id", responseURL = "response_url"
        }
    }

    public static func job(_ action: BlockAction) -> NewJob {
        let payload = Payload(kind: action.kind, value: action.value, userID: action.userID, teamID: action.teamID, responseURL: action.responseURL)
        return NewJob(kind: kind, payload: payload.jobText, dedupKey: action.actionTS.isEmpty ? nil : "slack-action:\(action.userID):\(action.actionTS)",
                      maxAttempts: 3)
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        let payload = try Payload.decode(job)
        let (kind, value, userID, responseURL) = (payload.kind, payload.value, payload.userID, payload.responseURL)
        let principal = context.principal(slackUserID: userID, teamID: payload.teamID)
        let renderer = context.renderer
        var message: JSONValue
        var replaceOriginal = false
        var thread: [OutboxMessage] = []
        switch kind {
        case .approve, .deny:
            let result = try await context.governance.vote(on: value, by: principal, approve: kind == .approve, reason: nil, via: "slack-button")
            switch result {
            case .approved, .denied:
                message = SlackViews.voteResult(renderer, result)
                replaceOriginal = true
            case .recorded(let record, let remaining):
                let names = record.votes.filter { $0.vote == .approve }.map(\.principal).joined(separator: ", ")
                message = SlackViews.approvalRequest(renderer, record, reason: record.policyDecision?.reason ?? "",
                                                     progress: "approved by \(names); \(remaining) more needed")
                replaceOriginal = true
            default:
                message = SlackViews.error(renderer, result.message)
            }
        case .runAction:
            guard let button = RunActionButton(value: value) else {
                throw JobFailure.permanent("the button's value is not a tool call")
            }
            let call = button.call
            switch try await context.governance.request(call, by: principal, origin: button.origin, via: "slack-button",
                                                        executionKey: "slack-button:\(job.id)") {
            case .ran(let output, _):
                message = SlackViews.lines(renderer, title: call.summary, lines: ["```\(Mrkdwn.fitting(output.prettyJSONText, 2900))```"], inChannel: true)
            case .failed(let error, _):
                message = SlackViews.error(renderer, "\(call.summary) failed: \(error)")
            case .denied(let decision):
                message = SlackViews.error(renderer, "Not allowed: \(decision.message ?? decision.reason)")
            case .pendingApproval(let record, let decision):
                message = SlackViews.approvalRequest(renderer, record, reason: decision.reason)
            case .repeated(let earlier):
                message = SlackViews.error(renderer, "\(call.summary) was already acted on for this click (\(earlier.state.rawValue)); not run again.")
            }
        case .silence:
            // The value names the alert (fingerprint, receiver, episode) only; what is matched comes from the stored alert.
            guard let button = SilenceButton(value: value) else {
                throw JobFailure.permanent("the button's value is not a silence request")
            }
            // Answered to the clicker only: the alert's thread, which everyone sees, gets the record.
            let silenced = try await context.silence(button.alert, duration: button.duration, principal: principal,
                                                     via: "slack-button", executionKey: "slack-button:\(job.id)", inChannel: false)
            message = silenced.message
            thread = silenced.thread
        }
        if case .object(var object) = message {
            object["replace_original"] = .bool(replaceOriginal)
            if !replaceOriginal, object["response_type"] == nil { object["response_type"] = .string("ephemeral") }
            message = .object(object)
        }
        return JobOutcome(result: kind.rawValue, followUp: ChangeSet(jobs: [SlackResponseJob.job(responseURL: responseURL, message: message)],
                                                                     slackMessages: thread))
    }
}
