import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskJobs
import HelpdeskStore
import Logging

extension SlackCommandContext {
    /// The principal a web channel user acts as: the person of that name under `users:` (as policy sees
    /// them), resolved when the job runs, so someone removed since they clicked acts as nobody.
    public func principal(webUser name: String) -> Principal {
        if let user = directory.user(named: name) {
            return Principal(id: user.name, roles: user.roles)
        }
        return Principal(id: "web:\(name)", kind: .anonymous)
    }

    /// A thread of the web channel: a context line naming who asked, and the answer in its thread.
    func webThread(key: String, root: Mrkdwn, answer: JSONValue) -> [OutboxMessage] {
        [OutboxMessage(channel: OutboxMessage.webChannel, body: root.messageBody, threadKey: key, isRoot: true),
         OutboxMessage(channel: OutboxMessage.webChannel, body: SlackViews.webAPIBody(answer), threadKey: key)]
    }
}

/// A command typed in the web channel's box: the same grammar, the same function and so the same gate
/// as the slash command, answered in the web channel as a thread of its own.
public struct WebCommandJob: JobHandler {
    public static let kind = "web.command"
    let context: SlackCommandContext

    public init(context: SlackCommandContext) {
        self.context = context
    }

    /// What a `web.command` job carries: the signed-in person's name and what they typed.
    struct Payload: JobPayload {
        var user: String
        var text: String
    }

    public static func job(user: String, text: String) -> NewJob {
        NewJob(kind: kind, payload: Payload(user: user, text: text).jobText, maxAttempts: 3)
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        let payload = try Payload.decode(job)
        let principal = context.principal(webUser: payload.user)
        // The job's id names this invocation across retries: a write it started is never repeated.
        var thread: [OutboxMessage] = []
        let answer = await SlackCommandJob(context: context).answer(CommandRequest(text: payload.text), principal: principal, via: "web",
                                                                    executionKey: "web-command:\(job.id)", thread: &thread)
        // Everyone signed in reads the feed: the command is shown as the audit log keeps it, redacted.
        let shown = context.governance.redacted(payload.text)
        let root: Mrkdwn = "*\(payload.user, limit: 200)* ran `\(context.commandName, limit: 50) \(shown, limit: 2000)`"
        // Slack shows an answer to whoever typed the command; the feed shows it to everyone signed in, so what
        // the typed text brings back (an error quoting it, a symptom) is redacted like the echo.
        let messages = context.webThread(key: "web:\(job.id)", root: root, answer: context.governance.redacted(answer))
        return JobOutcome(result: "answered", followUp: ChangeSet(slackMessages: messages + thread))
    }
}

/// A button clicked in the web channel (approve, deny, run a recommended action, silence): the same
/// click logic as Slack's buttons, with `via` "web"; the answer is a reply in the thread of the message
/// clicked, or a thread of its own for a button outside the feed (the incident view's Run).
public struct WebActionJob: JobHandler {
    public static let kind = "web.action"
    let context: SlackCommandContext

    public init(context: SlackCommandContext) {
        self.context = context
    }

    /// What a `web.action` job carries: who clicked, the button, and the thread it was in.
    struct Payload: JobPayload {
        var user: String
        var kind: BlockAction.Kind
        var value: String
        var thread: String
    }

    public static func job(user: String, kind: BlockAction.Kind, value: String, thread: String) -> NewJob {
        NewJob(kind: Self.kind, payload: Payload(user: user, kind: kind, value: value, thread: thread).jobText, maxAttempts: 3)
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        let payload = try Payload.decode(job)
        let principal = context.principal(webUser: payload.user)
        // In the feed everyone sees the answer: a silence's answer reads as in-channel.
        let answer = try await context.press(payload.kind, value: payload.value, principal: principal, via: "web",
                                             executionKey: "web-button:\(job.id)", inChannel: true)
        var messages: [OutboxMessage]
        if payload.thread.isEmpty {
            let root: Mrkdwn = "*\(payload.user, limit: 200)* clicked *\(Self.label(payload.kind))*"
            messages = context.webThread(key: "web:\(job.id)", root: root, answer: answer.message)
        } else if answer.replacesOriginal {
            // A vote that moved the request on: Slack replaces the clicked card. Here the card is edited in place
            // only when it is its own thread's root (the approvals channel's `approval:ID`) — never whatever root
            // the form names, such as an alert's — and the thread gets one line saying who voted.
            let vote: Mrkdwn = "*\(payload.user, limit: 200)* voted *\(Self.label(payload.kind).lowercased())*"
            messages = [OutboxMessage(channel: OutboxMessage.webChannel, body: vote.messageBody, threadKey: payload.thread)]
            if payload.thread == SlackApprovalNotifier.threadKey(payload.value) {
                messages.insert(OutboxMessage(channel: OutboxMessage.webChannel, method: .update, body: SlackViews.webAPIBody(answer.message),
                                              threadKey: payload.thread), at: 0)
            }
        } else {
            messages = [OutboxMessage(channel: OutboxMessage.webChannel, body: SlackViews.webAPIBody(answer.message), threadKey: payload.thread)]
        }
        messages += answer.thread
        return JobOutcome(result: payload.kind.rawValue, followUp: ChangeSet(slackMessages: messages))
    }

    static func label(_ kind: BlockAction.Kind) -> String {
        switch kind {
        case .approve: "Approve"
        case .deny: "Deny"
        case .runAction: "Run"
        case .silence: "Silence"
        }
    }
}
