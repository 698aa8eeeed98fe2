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
        let principal = context.principal(slackUserID: payload.userID, teamID: payload.teamID)
        // What is not a decided request is answered to the clicker only: an alert's thread, which everyone sees, gets the record.
        let answer = try await context.press(payload.kind, value: payload.value, principal: principal, via: "slack-button",
                                             executionKey: "slack-button:\(job.id)", inChannel: false)
        var message = answer.message
        if case .object(var object) = message {
            object["replace_original"] = .bool(answer.replacesOriginal)
            if !answer.replacesOriginal, object["response_type"] == nil { object["response_type"] = .string("ephemeral") }
            message = .object(object)
        }
        return JobOutcome(result: payload.kind.rawValue,
                          followUp: ChangeSet(jobs: [SlackResponseJob.job(responseURL: payload.responseURL, message: message)],
                                              slackMessages: answer.thread))
    }
}

/// What a button click did: the answer for whoever clicked, whether it takes the place of the clicked
/// message (a decided or progressed approval request), and replies for an alert's thread.
public struct ButtonAnswer: Sendable {
    public var message: JSONValue
    public var replacesOriginal: Bool
    public var thread: [OutboxMessage]
}

extension SlackCommandContext {
    /// One button click through the gate — approve or deny a request, run a recommended action, silence
    /// an alert — shared by Slack's buttons and the web channel's, so both decide alike. `via` names the
    /// door in the audit log and `executionKey` the click, so a retried job never acts twice.
    /// Throws ``JobFailure/permanent(_:)`` for a value that is not the button's kind.
    func press(_ kind: BlockAction.Kind, value: String, principal: Principal, via: String, executionKey: String,
               inChannel: Bool) async throws -> ButtonAnswer {
        switch kind {
        case .approve, .deny:
            let result = try await governance.vote(on: value, by: principal, approve: kind == .approve, reason: nil, via: via)
            switch result {
            case .approved, .denied:
                return ButtonAnswer(message: SlackViews.voteResult(renderer, result), replacesOriginal: true, thread: [])
            case .recorded(let record, let remaining):
                let names = record.votes.filter { $0.vote == .approve }.map(\.principal).joined(separator: ", ")
                let message = SlackViews.approvalRequest(renderer, record, reason: record.policyDecision?.reason ?? "",
                                                         progress: "approved by \(names); \(remaining) more needed")
                return ButtonAnswer(message: message, replacesOriginal: true, thread: [])
            default:
                return ButtonAnswer(message: SlackViews.error(renderer, result.message), replacesOriginal: false, thread: [])
            }
        case .runAction:
            guard let button = RunActionButton(value: value) else {
                throw JobFailure.permanent("the button's value is not a tool call")
            }
            let call = button.call
            let message: JSONValue
            switch try await governance.request(call, by: principal, origin: button.origin, via: via, executionKey: executionKey) {
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
            return ButtonAnswer(message: message, replacesOriginal: false, thread: [])
        case .silence:
            // The value names the alert (fingerprint, receiver, episode) only; what is matched comes from the stored alert.
            guard let button = SilenceButton(value: value) else {
                throw JobFailure.permanent("the button's value is not a silence request")
            }
            let silenced = try await silence(button.alert, duration: button.duration, principal: principal, via: via,
                                             executionKey: executionKey, inChannel: inChannel)
            return ButtonAnswer(message: silenced.message, replacesOriginal: false, thread: silenced.thread)
        }
    }
}
