import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore

/// What a "Silence 1h" button carries: which alert (its fingerprint) and for how long. Small and
/// typed: the labels to match and the receiver are read from the stored alert when it is clicked,
/// never taken from the click.
public struct SilenceButton: Sendable, Equatable, Codable {
    public static let defaultDuration = "1h"

    public var fingerprint: String
    public var duration: String

    public init(fingerprint: String, duration: String = SilenceButton.defaultDuration) {
        self.fingerprint = fingerprint
        self.duration = duration
    }

    /// Reads a button's `value`; `nil` when it is not one of ours.
    public init?(value: String) {
        guard let decoded = try? JSONDecoder().decode(SilenceButton.self, from: Data(value.utf8)), !decoded.fingerprint.isEmpty else { return nil }
        self = decoded
    }

    /// The button's `value`: `{"duration":"1h","fingerprint":"…"}`.
    public var value: String {
        JSONValue.object(["fingerprint": .string(fingerprint), "duration": .string(duration)]).jsonText
    }
}

/// What a silence request produced: the answer for whoever asked, and the reply for the alert's thread.
public struct SilenceAnswer: Sendable {
    public var message: JSONValue
    public var thread: [OutboxMessage]

    public init(message: JSONValue, thread: [OutboxMessage] = []) {
        self.message = message
        self.thread = thread
    }
}

extension SlackCommandContext {
    /// The Alertmanager agent's tool (HelpdeskAlertmanagerAgent), named here so Slack needs no link to it.
    public static let silenceTool = "create_silence"

    /// Silences the newest stored alert with `fingerprint` at its receiver's Alertmanager, matching
    /// all its labels, for `duration`: passed through the gate as `principal` (so policy allows,
    /// denies or asks for approval, and the audit log records it), and told in the alert's thread
    /// when it ran or waits for approval. `inChannel`: whether the answer is seen by the channel.
    public func silence(fingerprint: String, duration durationText: String, principal: Principal, via: String, executionKey: String?,
                        inChannel: Bool) async throws -> SilenceAnswer {
        guard let duration = Duration(parsing: durationText), duration > .zero else {
            return SilenceAnswer(message: SlackViews.error(renderer, "\"\(truncated(durationText, 50))\" is not a duration.",
                                                           hint: "Like `\(commandName) silence ALERT_ID 1h` (from 1m to 7d)."))
        }
        guard let alert = try await store.alerts.latest(fingerprint: fingerprint) else {
            return SilenceAnswer(message: SlackViews.error(renderer, "No alert \(truncated(fingerprint, 100)) was received, or it is no longer kept.",
                                                           hint: "`helpdesk alerts list` shows the fingerprints of stored alerts."))
        }
        let alertname = alert.labels["alertname"] ?? "alert"
        let labelText = truncated(alert.labels.keys.sorted().map { "\($0)=\"\(alert.labels[$0] ?? "")\"" }.joined(separator: ", "), 1000)
        let call = ToolCall(tool: Self.silenceTool, target: alert.receiver, arguments: [
            "matchers": .string(JSONValue.object(alert.labels.mapValues(JSONValue.string)).jsonText),
            "duration": .string(duration.compactText),
            "created_by": .string(principal.description),
            "comment": .string("silenced from Slack by \(principal.description) for \(duration.compactText) (alert \(fingerprint))"),
        ])
        // Offered only on receivers whose Alertmanager is configured: refused before policy, and audited.
        guard governance.catalog(for: alert.receiver).contains(where: { $0.name == Self.silenceTool }) else {
            let why = "receiver \(alert.receiver) has no Alertmanager URL: set alertmanager.receivers.\(alert.receiver).url"
            try await store.apply(ChangeSet(audit: [governance.refusal(call, for: principal, via: via, reason: why)]))
            return SilenceAnswer(message: SlackViews.error(renderer, "Cannot silence \(alertname): \(why)."))
        }
        switch try await governance.request(call, by: principal, via: via, executionKey: executionKey) {
        case .ran(let output, _):
            let id = output["silence_id"]?.description ?? "?"
            let until = output["ends_at"]?.description ?? "?"
            let message = SlackViews.lines(renderer, title: "Silenced \(alertname) for \(duration.compactText)", lines: [
                "silence `\(id)` at the Alertmanager of receiver `\(alert.receiver)`, until \(until)", "matching \(labelText)",
            ], inChannel: inChannel)
            let reply = ":mute: \(principal.description) silenced *\(alertname)* for \(duration.compactText), until \(until): silence `\(id)` matching \(labelText)"
            return SilenceAnswer(message: message, thread: await threadReply(alert, text: reply))
        case .failed(let error, _):
            return SilenceAnswer(message: SlackViews.error(renderer, "Silencing \(alertname) failed: \(error)"))
        case .denied(let decision):
            return SilenceAnswer(message: SlackViews.error(renderer, "Not allowed: \(decision.message ?? decision.reason)",
                                                           hint: decision.message == nil ? nil : decision.reason))
        case .pendingApproval(let record, let decision):
            let reply = ":lock: \(principal.description) asked to silence *\(alertname)* for \(duration.compactText); it waits for approval `\(record.id)`."
            return SilenceAnswer(message: SlackViews.approvalRequest(renderer, record, reason: decision.reason),
                                 thread: await threadReply(alert, text: reply))
        case .repeated(let earlier):
            return SilenceAnswer(message: SlackViews.error(renderer, "This silence of \(alertname) was already acted on (\(earlier.state.rawValue)); not again."))
        }
    }

    /// A reply in the thread of the alert's group, once its root was posted (none in a storm's
    /// digest, or before the root went out: the answer to whoever asked still says what happened).
    func threadReply(_ alert: StoredAlert, text: String) async -> [OutboxMessage] {
        let key = SlackViews.alertThreadKey(alert.groupKey)
        guard let root = try? await store.slackOutbox.threadRoot(key) else { return [] }
        return [OutboxMessage(channel: root.channel, body: .object(["text": .string(truncated(text, SlackRenderer.Limit.sectionText))]), threadKey: key)]
    }
}
