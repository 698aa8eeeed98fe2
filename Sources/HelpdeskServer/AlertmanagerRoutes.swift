import Foundation
import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskCore
import HelpdeskSlack
import HelpdeskStore
import Hummingbird
import HTTPTypes
import Logging
import Metrics

/// `POST /webhooks/alertmanager`: authenticate as the receiver's `http_config` does (bearer token
/// or basic auth), record every alert and its follow-up jobs in one transaction, and answer 200
/// only then, so Alertmanager's own retries cover a crash before that. Repeats of a known
/// (fingerprint, startsAt, status) change nothing.
struct AlertmanagerRoutes {
    let settings: AlertmanagerSettings
    var receivers: [AlertmanagerSettings.Receiver] { settings.receivers }
    let defaultChannel: String?
    let srebot: SrebotContext?
    let store: any Store
    let metrics: any MetricsFactory

    func register(on router: Router<AppRequestContext>) {
        router.post("/webhooks/alertmanager") { request, context in try await receive(request, context) }
    }

    private func count(_ outcome: String) {
        Counter(label: "helpdesk_alertmanager_requests_total", dimensions: [("outcome", outcome)], factory: metrics).increment()
    }

    /// The receiver whose credentials the request carries, or `nil`.
    func authenticate(_ headers: HTTPFields) -> AlertmanagerSettings.Receiver? {
        let header = headers[.authorization] ?? ""
        for receiver in receivers {
            switch receiver.credentials {
            case .bearer(let token):
                let prefix = "Bearer "
                if header.hasPrefix(prefix), constantTimeEquals(Array(header.dropFirst(prefix.count).utf8), Array(token.reveal().utf8)) {
                    return receiver
                }
            case .basic(let user, let password):
                let expected = "Basic " + Data("\(user):\(password.reveal())".utf8).base64EncodedString()
                if constantTimeEquals(Array(header.utf8), Array(expected.utf8)) { return receiver }
            case .none:
                // `auth: none` written out in the configuration; a request carrying credentials
                // that match no receiver is refused rather than routed to the open one.
                if header.isEmpty { return receiver }
            }
        }
        return nil
    }

    private func receive(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let srebot, !receivers.isEmpty else {
            count("not_configured")
            throw APIError(status: .serviceUnavailable, code: "alertmanager_not_configured",
                           message: "no Alertmanager receivers are configured (alertmanager.receivers)")
        }
        guard let receiver = authenticate(request.headers) else {
            count("unauthorized")
            context.logger.notice("Alertmanager webhook refused: bad credentials")
            throw APIError(status: .unauthorized, code: "unauthorized", message: "the credentials do not match any configured receiver")
        }
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        let payload: AlertmanagerPayload
        do {
            payload = try AlertmanagerPayload.parse(Data(body.readableBytesView))
        } catch {
            count("malformed")
            throw APIError(status: .badRequest, code: "bad_request", message: error.message)
        }
        let labels = payload.commonLabels ?? payload.alerts.first?.labels ?? [:]
        let channel = settings.routes.first { $0.matches(labels) }?.channel ?? receiver.channel ?? defaultChannel
        let link = payload.alerts.first?.generatorURL.flatMap { $0.isEmpty ? nil : $0 } ?? payload.externalURL
        var changes = ChangeSet()
        // Storm control: past the threshold of firing alerts a minute, diagnose only the most severe few.
        let minuteAgo = Date().addingTimeInterval(-60)
        let firing = payload.alerts.filter { $0.status == "firing" }
        let recent = try await store.alerts.firingCount(receiver: receiver.name, since: minuteAgo)
        let storm = recent + firing.count > settings.stormThreshold
        let diagnosed: Set<String> = storm
            ? Set(firing.sorted { Self.rank($0.labels["severity"]) > Self.rank($1.labels["severity"]) }.prefix(settings.stormDiagnoseTop).map(\.fingerprint))
            : Set(firing.map(\.fingerprint))
        for alert in payload.alerts {
            var job: [String: JSONValue] = [
                "fingerprint": .string(alert.fingerprint), "starts_at": .string(alert.startsAt), "group_key": .string(payload.groupKey),
                "group_status": .string(payload.status), "group_size": .number(Double(payload.alerts.count)),
                "labels": .object(alert.labels.mapValues(JSONValue.string)), "annotations": .object(alert.annotations.mapValues(JSONValue.string)),
                "ends_at": alert.endsAt.map(JSONValue.string) ?? .null,
            ]
            if let channel { job["channel"] = .string(channel) }
            if let link { job["link"] = .string(link) }
            let kind = alert.status == "firing" ? SrebotAlertJob.kind : SrebotResolvedJob.kind
            let jobs = alert.status == "firing" && !diagnosed.contains(alert.fingerprint) ? [] : [NewJob(kind: kind, payload: JSONValue.object(job).jsonText, maxAttempts: 4)]
            changes.alerts.append(AlertRecord(
                fingerprint: alert.fingerprint, startsAt: alert.startsAt, status: alert.status, groupKey: payload.groupKey, receiver: receiver.name,
                labels: .object(alert.labels.mapValues(JSONValue.string)), annotations: .object(alert.annotations.mapValues(JSONValue.string)),
                endsAt: alert.endsAt, generatorURL: alert.generatorURL, receivedAt: Date(),
                onNew: jobs))
        }
        // The group's thread starts with one root message, queued before any reply can be.
        if let channel, srebot.renderer != nil, srebot.slackEnabled, storm {
            // One summary per receiver and minute, edited as the storm grows.
            let bucket = Int(Date().timeIntervalSince1970 / 60)
            let key = "storm:\(receiver.name):\(bucket)"
            let known = try await store.alerts.recentFiring(receiver: receiver.name, since: minuteAgo, limit: 40).map { "\($0.alertname) (\($0.severity))" }
            let names = (firing.map { "\($0.labels["alertname"] ?? "alert") (\($0.labels["severity"] ?? "unknown"))" } + known)
            let summary: JSONValue = .object(["text": .string(":rotating_light: Alert storm on \(receiver.name): \(recent + firing.count) alerts in a minute; diagnosing only the \(settings.stormDiagnoseTop) most severe of each notification.\n" + names.prefix(40).joined(separator: "\n"))])
            changes.slackMessages.append(OutboxMessage(channel: channel, body: summary, threadKey: key, isRoot: true, onceKey: key))
            changes.slackMessages.append(OutboxMessage(channel: channel, method: .update, body: summary, threadKey: key))
        }
        if let channel, let renderer = srebot.renderer, srebot.slackEnabled, payload.status == "firing",
           let first = payload.alerts.first(where: { diagnosed.contains($0.fingerprint) }) ?? (storm ? nil : payload.alerts.first) {
            let target = srebot.target(for: first.labels).name
            let root = SlackViews.alertRoot(renderer, alertname: payload.commonLabels?["alertname"] ?? first.labels["alertname"] ?? "alert",
                                            severity: payload.commonLabels?["severity"] ?? first.labels["severity"] ?? "unknown", target: target,
                                            status: "firing", summary: first.annotations["summary"], link: link, alerts: payload.alerts.count,
                                            started: first.startsAt)
            changes.slackMessages.append(OutboxMessage(channel: channel, body: SlackViews.webAPIBody(root),
                                                       threadKey: "alertgroup:\(payload.groupKey)", isRoot: true, onceKey: "alert-root:\(payload.groupKey)"))
        }
        changes.audit.append(AuditDraft(kind: "alert_received", principal: "service:alertmanager:\(receiver.name)", target: payload.groupKey, data: .object([
            "status": .string(payload.status), "alerts": .number(Double(payload.alerts.count)),
            "truncated": .number(Double(payload.truncatedAlerts ?? 0)), "request_id": .string(context.requestID),
        ])))
        let outcome = try await store.apply(changes)
        let fresh = outcome.newAlerts.filter { $0 }.count
        count(fresh > 0 ? "accepted" : "repeat")
        context.logger.info("alerts received", metadata: ["group": "\(payload.groupKey)", "alerts": "\(payload.alerts.count)", "new": "\(fresh)"])
        return jsonResponse(status: .ok, ["status": "ok", "alerts": String(payload.alerts.count), "new": String(fresh), "storm": String(storm)])
    }

    static func rank(_ severity: String?) -> Int {
        switch severity?.lowercased() {
        case "critical", "page", "emergency": 3
        case "error", "high": 2
        case "warning", "medium": 1
        default: 0
        }
    }
}
