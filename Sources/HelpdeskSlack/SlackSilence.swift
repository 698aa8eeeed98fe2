import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore

/// What a "Silence 1h" button carries: which alert — its fingerprint, the receiver that got it and the
/// firing episode (`starts_at`), since one fingerprint can reach several receivers — and for how long.
/// Small and typed: the labels to match are read from the stored alert when it is clicked, never
/// taken from the click.
public struct SilenceButton: Sendable, Equatable, Codable {
    public static let defaultDuration = "1h"

    public var fingerprint: String
    /// `nil` only in buttons posted before they carried it: such a click is treated like
    /// `/helpdesk silence FINGERPRINT`, refused when several receivers got the alert.
    public var receiver: String?
    public var startsAt: String?
    public var duration: String

    public init(fingerprint: String, receiver: String, startsAt: String, duration: String = SilenceButton.defaultDuration) {
        self.fingerprint = fingerprint
        self.receiver = receiver
        self.startsAt = startsAt
        self.duration = duration
    }

    /// Reads a button's `value`; `nil` when it is not one of ours.
    public init?(value: String) {
        guard let decoded = try? JSONDecoder().decode(SilenceButton.self, from: Data(value.utf8)), !decoded.fingerprint.isEmpty,
              decoded.receiver?.isEmpty != true, decoded.startsAt?.isEmpty != true else { return nil }
        self = decoded
    }

    /// The button's `value`: `{"duration":"1h","fingerprint":"…","receiver":"…","starts_at":"…"}`.
    public var value: String {
        var object: [String: JSONValue] = ["fingerprint": .string(fingerprint), "duration": .string(duration)]
        if let receiver { object["receiver"] = .string(receiver) }
        if let startsAt { object["starts_at"] = .string(startsAt) }
        return JSONValue.object(object).jsonText
    }

    /// The alert the button is about.
    public var alert: AlertReference {
        AlertReference(fingerprint: fingerprint, receiver: receiver, startsAt: startsAt)
    }

    enum CodingKeys: String, CodingKey {
        case fingerprint, receiver, duration, startsAt = "starts_at"
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

    /// Silences one stored alert at its receiver's Alertmanager, matching all its labels, for
    /// `duration`: passed through the gate as `principal` (so policy allows, denies or asks for
    /// approval, and the audit log records it), and told in the alert's thread when it ran or waits
    /// for approval. `alert` names the fingerprint and, where several receivers got it, which one;
    /// a fingerprint alone that several receivers got is refused with the choices.
    /// `inChannel`: whether the answer is seen by the channel.
    public func silence(_ reference: AlertReference, duration durationText: String, principal: Principal, via: String, executionKey: String?,
                        inChannel: Bool) async throws -> SilenceAnswer {
        guard let duration = Duration(parsing: durationText), duration > .zero else {
            return SilenceAnswer(message: SlackViews.error(renderer, "\"\(truncated(durationText, 50))\" is not a duration.",
                                                           hint: "Like `\(commandName) silence FINGERPRINT@RECEIVER 1h` (from 1m to 7d)."))
        }
        let alert: StoredAlert
        switch try await find(reference) {
        case .found(let found):
            alert = found
        case .missing:
            return SilenceAnswer(message: SlackViews.error(renderer, "No alert \(truncated(reference.description, 200)) was received, or it is no longer kept.",
                                                           hint: "`helpdesk alerts list` shows the fingerprints and receivers of stored alerts."))
        case .ambiguous(let choices):
            let names = choices.map { "`\(AlertReference(fingerprint: $0.fingerprint, receiver: $0.receiver))`" }
            return SilenceAnswer(message: SlackViews.error(
                renderer, "Alert \(truncated(reference.fingerprint, 100)) reached \(choices.count) receivers; say which: \(names.joined(separator: ", ")).",
                hint: "Like `\(commandName) silence \(AlertReference(fingerprint: choices[0].fingerprint, receiver: choices[0].receiver)) \(durationText)`."))
        }
        let alertname = alert.labels["alertname"] ?? "alert"
        let labelText = alert.labels.keys.sorted().map { "\($0)=\"\(alert.labels[$0] ?? "")\"" }.joined(separator: ", ")
        let door = via.hasPrefix("web") ? "the web channel" : "Slack"
        let call = ToolCall(tool: Self.silenceTool, target: alert.receiver, arguments: [
            "matchers": .string(JSONValue.object(alert.labels.mapValues(JSONValue.string)).jsonText),
            "duration": .string(duration.compactText),
            "created_by": .string(principal.description),
            "comment": .string("silenced from \(door) by \(principal.description) for \(duration.compactText) (alert \(alert.fingerprint)@\(alert.receiver))"),
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
                "silence `\(id)` at the Alertmanager of receiver `\(alert.receiver)`, until \(until)", "matching \(Mrkdwn.fitting(labelText, 1000))",
            ], inChannel: inChannel)
            let reply: Mrkdwn = """
                :mute: \(principal.description, limit: 200) silenced *\(alertname, limit: 200)* for \(duration.compactText), until \(until, limit: 100): \
                silence `\(id, limit: 100)` matching \(labelText, limit: 1000)
                """
            return SilenceAnswer(message: message, thread: await threadReply(alert, text: reply))
        case .failed(let error, _):
            return SilenceAnswer(message: SlackViews.error(renderer, "Silencing \(alertname) failed: \(error)"))
        case .denied(let decision):
            return SilenceAnswer(message: SlackViews.error(renderer, "Not allowed: \(decision.message ?? decision.reason)",
                                                           hint: decision.message == nil ? nil : decision.reason))
        case .pendingApproval(let record, let decision):
            let reply: Mrkdwn = """
                :lock: \(principal.description, limit: 200) asked to silence *\(alertname, limit: 200)* for \(duration.compactText); \
                it waits for approval `\(record.id)`.
                """
            return SilenceAnswer(message: SlackViews.approvalRequest(renderer, record, reason: decision.reason),
                                 thread: await threadReply(alert, text: reply))
        case .repeated(let earlier):
            return SilenceAnswer(message: SlackViews.error(renderer, "This silence of \(alertname) was already acted on (\(earlier.state.rawValue)); not again."))
        }
    }

    /// A reply in the thread of the alert's group, once its root was posted (none in a storm's
    /// digest, or before the root went out: the answer to whoever asked still says what happened).
    func threadReply(_ alert: StoredAlert, text: Mrkdwn) async -> [OutboxMessage] {
        let key = SlackViews.alertThreadKey(alert.groupKey)
        if let root = try? await store.slackOutbox.threadRoot(key) {
            return [OutboxMessage(channel: root.channel, body: text.messageBody, threadKey: key)]
        }
        // The web channel's roots are delivered as stored, with no Slack `ts`: its thread is known by its key.
        guard (try? await store.slackOutbox.threadExists(key)) == true else { return [] }
        return [OutboxMessage(channel: OutboxMessage.webChannel, body: text.messageBody, threadKey: key)]
    }

    enum Found {
        case found(StoredAlert)
        case missing
        case ambiguous([StoredAlert])
    }

    /// The stored alert `reference` names: by all three parts (a button), by fingerprint and receiver
    /// (`FINGERPRINT@RECEIVER`: its newest episode there), or by fingerprint alone when one receiver got it.
    func find(_ reference: AlertReference) async throws -> Found {
        if let receiver = reference.receiver, let startsAt = reference.startsAt {
            let alert = try await store.alerts.instance(fingerprint: reference.fingerprint, receiver: receiver, startsAt: startsAt)
            return alert.map(Found.found) ?? .missing
        }
        let latest = try await store.alerts.latestPerReceiver(fingerprint: reference.fingerprint)
        if let receiver = reference.receiver {
            return latest.first { $0.receiver == receiver }.map(Found.found) ?? .missing
        }
        switch latest.count {
        case 0: return .missing
        case 1: return .found(latest[0])
        default: return .ambiguous(latest)
        }
    }
}
