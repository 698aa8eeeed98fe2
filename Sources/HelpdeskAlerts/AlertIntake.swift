import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskJobs
import HelpdeskSlack
import HelpdeskStore

/// Turns one verified, decoded Alertmanager notification into what the store records: every alert,
/// the diagnosis or resolution job each new one starts, the group's root message, and the storm
/// bookkeeping that decides, inside the same write, which of those a stormy channel still gets.
public struct AlertIntake: Sendable {
    public let settings: AlertmanagerSettings
    public let defaultChannel: String?
    public let srebot: SrebotContext

    public init(settings: AlertmanagerSettings, defaultChannel: String?, srebot: SrebotContext) {
        self.settings = settings
        self.defaultChannel = defaultChannel
        self.srebot = srebot
    }

    public var stormRules: StormRules {
        StormRules(threshold: settings.stormThreshold, diagnoseTop: settings.stormDiagnoseTop, settle: settings.stormSettle,
                   digestInterval: settings.stormDigestInterval, quietPeriod: settings.stormQuietPeriod)
    }

    /// The channel a notification goes to: the first matching route, the receiver's channel, the default
    /// (while Slack posts); else the web channel when it is on.
    public func channel(for payload: AlertmanagerPayload, receiver: AlertmanagerSettings.Receiver) -> String? {
        let labels = payload.commonLabels ?? payload.alerts.first?.labels ?? [:]
        return srebot.postingChannel(settings.routes.first { $0.matches(labels) }?.channel ?? receiver.channel ?? defaultChannel)
    }

    /// - Parameter now: when the webhook was received, by this server's clock: the storm's clock,
    ///   whatever the alerts' `startsAt` say.
    public func changes(for payload: AlertmanagerPayload, receiver: AlertmanagerSettings.Receiver, requestID: String, now: Date = Date()) -> ChangeSet {
        let channel = channel(for: payload, receiver: receiver)
        let link = payload.alerts.first?.generatorURL.flatMap { $0.isEmpty ? nil : $0 } ?? payload.externalURL
        // Storms are kept per channel; alerts that post nowhere storm per receiver, so their diagnoses stay bounded too.
        let stormKey = channel ?? "receiver:\(receiver.name)"
        var changes = ChangeSet()
        for alert in payload.alerts {
            var job = AlertJobPayload(fingerprint: alert.fingerprint, startsAt: alert.startsAt, endsAt: alert.endsAt, groupKey: payload.groupKey,
                                      groupStatus: payload.status, groupSize: payload.alerts.count, labels: alert.labels,
                                      annotations: alert.annotations, channel: channel, link: link)
            job.stormKey = channel == nil ? stormKey : nil
            let kind = alert.status == "firing" ? SrebotAlertJob.kind : SrebotResolvedJob.kind
            var record = AlertRecord(
                fingerprint: alert.fingerprint, startsAt: alert.startsAt, status: alert.status, groupKey: payload.groupKey, receiver: receiver.name,
                labels: .object(alert.labels.mapValues(JSONValue.string)), annotations: .object(alert.annotations.mapValues(JSONValue.string)),
                endsAt: alert.endsAt, generatorURL: alert.generatorURL, receivedAt: now, onNew: [])
            record.onNew = [NewJob(kind: kind, payload: job.jobText(labelsText: record.labelsText, annotationsText: record.annotationsText),
                                   runAt: alert.status == "firing" ? now.addingTimeInterval(settings.diagnosisDelay.seconds) : nil, maxAttempts: 4)]
            changes.alerts.append(record)
        }
        changes.audit.append(AuditDraft(kind: "alert_received", principal: "service:alertmanager:\(receiver.name)", target: payload.groupKey, data: .object([
            "status": .string(payload.status), "alerts": .number(Double(payload.alerts.count)),
            "truncated": .number(Double(payload.truncatedAlerts ?? 0)), "request_id": .string(requestID),
        ])))
        let posts = channel != nil && srebot.posts
        var calm = CalmMessages.none
        // The group's thread starts with one root message, queued before any reply can be; rendered
        // only if the write finds the channel calm.
        if posts, let channel, let renderer = srebot.renderer, payload.status == "firing", let first = payload.alerts.first(where: { $0.status == "firing" }) {
            let alertname = payload.commonLabels?["alertname"] ?? first.labels["alertname"] ?? "alert"
            let severity = payload.commonLabels?["severity"] ?? first.labels["severity"] ?? "unknown"
            let target = srebot.target(for: first.labels).name
            // Only where a silence can be made: the receiver names its Alertmanager.
            let silence = receiver.url == nil ? nil : SilenceButton(fingerprint: first.fingerprint, receiver: receiver.name, startsAt: first.startsAt)
            let threadKey = SrebotContext.threadKey(payload.groupKey)
            let onceKey = "alert-root:\(payload.groupKey)"
            let alertCount = payload.alerts.count
            calm = CalmMessages(root: .init(threadKey: threadKey, onceKey: onceKey)) {
                let root = SlackViews.alertRoot(renderer, alertname: alertname, severity: severity, target: target, status: "firing",
                                                summary: first.annotations["summary"], link: link, alerts: alertCount, started: first.startsAt,
                                                silence: silence)
                return [OutboxMessage(channel: channel, body: SlackViews.webAPIBody(root), threadKey: threadKey, isRoot: true, onceKey: onceKey)]
            }
        }
        let common = payload.commonLabels ?? [:]
        // A group's name in the digest: its common alertname, else what Alertmanager grouped by, else its first alert's name.
        let grouping = (payload.groupLabels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let name = common["alertname"] ?? (grouping.isEmpty ? nil : grouping) ?? payload.alerts.first?.labels["alertname"] ?? "alert"
        changes.notification = AlertNotificationIntake(
            channel: stormKey, groupKey: payload.groupKey, groupName: name,
            severity: common["severity"] ?? payload.alerts.first?.labels["severity"] ?? "unknown",
            ranks: payload.alerts.map { Self.rank($0.labels["severity"]) }, rules: stormRules, calmMessages: calm, postsToSlack: posts,
            receivedAt: now)
        return changes
    }

    public static func rank(_ severity: String?) -> Int {
        switch severity?.lowercased() {
        case "critical", "page", "emergency": 3
        case "error", "high": 2
        case "warning", "medium": 1
        default: 0
        }
    }
}

/// What a `srebot.alert` or `srebot.resolved` job carries.
public struct AlertJobPayload: JobPayload, Equatable {
    public var fingerprint: String
    public var startsAt: String
    public var endsAt: String?
    public var groupKey: String
    public var groupStatus: String
    public var groupSize: Int
    public var labels: [String: String]
    public var annotations: [String: String]
    public var channel: String?
    public var link: String?
    /// Where the alert storms when it posts to no channel (`receiver:NAME`).
    public var stormKey: String?

    public init(fingerprint: String, startsAt: String, endsAt: String?, groupKey: String, groupStatus: String, groupSize: Int,
                labels: [String: String], annotations: [String: String], channel: String?, link: String?) {
        self.fingerprint = fingerprint
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.groupKey = groupKey
        self.groupStatus = groupStatus
        self.groupSize = groupSize
        self.labels = labels
        self.annotations = annotations
        self.channel = channel
        self.link = link
    }

    /// Written through ``JSONValue/jsonText``: one is queued for every alert received, and
    /// `JSONEncoder` was a tenth of the webhook's CPU. Decoded by the synthesized `Decodable`.
    public var jobText: String {
        var object: [String: JSONValue] = [
            "fingerprint": .string(fingerprint), "starts_at": .string(startsAt), "group_key": .string(groupKey), "group_status": .string(groupStatus),
            "group_size": .number(Double(groupSize)), "labels": .object(labels.mapValues(JSONValue.string)),
            "annotations": .object(annotations.mapValues(JSONValue.string)),
        ]
        if let endsAt { object["ends_at"] = .string(endsAt) }
        if let channel { object["channel"] = .string(channel) }
        if let link { object["link"] = .string(link) }
        if let stormKey { object["storm_key"] = .string(stormKey) }
        return JSONValue.object(object).jsonText
    }

    /// ``jobText`` with the labels' and annotations' JSON already written (the alert's record holds
    /// them): the same bytes, keys in the same sorted order, without building the object again.
    public func jobText(labelsText: String, annotationsText: String) -> String {
        var text = #"{"annotations":"#
        text.reserveCapacity(labelsText.utf8.count + annotationsText.utf8.count + 256)
        text += annotationsText
        if let channel { text += #","channel":"# + JSONValue.stringLiteral(channel) }
        if let endsAt { text += #","ends_at":"# + JSONValue.stringLiteral(endsAt) }
        text += #","fingerprint":"# + JSONValue.stringLiteral(fingerprint)
        text += #","group_key":"# + JSONValue.stringLiteral(groupKey)
        text += #","group_size":"# + String(groupSize)
        text += #","group_status":"# + JSONValue.stringLiteral(groupStatus)
        text += #","labels":"# + labelsText
        if let link { text += #","link":"# + JSONValue.stringLiteral(link) }
        text += #","starts_at":"# + JSONValue.stringLiteral(startsAt)
        if let stormKey { text += #","storm_key":"# + JSONValue.stringLiteral(stormKey) }
        text += "}"
        return text
    }

    enum CodingKeys: String, CodingKey {
        case fingerprint, labels, annotations, channel, link, stormKey = "storm_key"
        case startsAt = "starts_at", endsAt = "ends_at", groupKey = "group_key", groupStatus = "group_status", groupSize = "group_size"
    }

}
