import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore

/// Posts each approval request to the approvals channel with approve/deny buttons, as the root of
/// its own thread; its decision and the action's result go in the thread, and the root message
/// is edited to show where things stand.
public struct SlackApprovalNotifier: ApprovalNotifier {
    let channel: String
    let renderer: SlackRenderer

    public init(channel: String, renderer: SlackRenderer) {
        self.channel = channel
        self.renderer = renderer
    }

    /// The thread a request's card starts.
    public static func threadKey(_ approvalID: String) -> String { "approval:\(approvalID)" }

    public func opened(_ record: ApprovalRecord, decision: Decision) -> ChangeSet {
        let message = SlackViews.approvalRequest(renderer, record, reason: decision.reason)
        return ChangeSet(slackMessages: [OutboxMessage(channel: channel, body: SlackViews.webAPIBody(message), threadKey: Self.threadKey(record.id), isRoot: true)])
    }

    public func decided(_ record: ApprovalRecord, summary: String) -> ChangeSet {
        let view = SlackViews.decided(renderer, record, outcome: summary)
        // The summary holds the action's result or error (text from outside): escaped, and cut to a section.
        let note: Mrkdwn = "`\(record.id)`: \(summary)"
        return ChangeSet(slackMessages: [
            OutboxMessage(channel: channel, method: .update, body: SlackViews.webAPIBody(view), threadKey: Self.threadKey(record.id)),
            OutboxMessage(channel: channel, body: note.messageBody, threadKey: Self.threadKey(record.id)),
        ])
    }
}
