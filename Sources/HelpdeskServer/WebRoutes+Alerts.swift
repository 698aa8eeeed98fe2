import Foundation
import HelpdeskConfig
import HelpdeskStore
import Hummingbird
import Logging

/// `GET /web/alerts?status=firing|resolved`: received alerts, newest first, and each channel's storm state.
extension WebRoutes {
    static let alertRows = 200

    func alerts(_ request: Request, _ context: AppRequestContext, _ visitor: WebVisitor) async -> Response {
        let asked = request.uri.queryParameters.get("status") ?? "all"
        let filter = ["firing", "resolved"].contains(asked) ? asked : "all"
        var page = head(visitor, title: "Alerts", tab: .alerts)
        do {
            // "resolved" is the records saying so; "firing" the episodes with no such record yet (as `helpdesk alerts list --firing`).
            var alerts = try await store.alerts.list(AlertQuery(firingOnly: filter == "firing", limit: filter == "resolved" ? 2000 : Self.alertRows))
            if filter == "resolved" { alerts = Array(alerts.filter { $0.status == "resolved" }.prefix(Self.alertRows)) }
            page["alerts"] = alerts.map(alertRow)
            page["empty"] = alerts.isEmpty
            page["storms"] = try await storms()
        } catch {
            return storeUnavailable(error, context, visitor: visitor)
        }
        page["filters"] = ["all", "firing", "resolved"].map { ["value": $0, "current": $0 == filter] }
        page["status"] = filter
        return render("alerts", page)
    }

    func alertRow(_ alert: StoredAlert) -> [String: Any] {
        let target = alertmanager.targetLabels.lazy.compactMap { alert.labels[$0] }.first ?? "-"
        var row: [String: Any] = [
            "received": Self.time(alert.receivedAt), "status": alert.status, "severity": alert.labels["severity"] ?? "-",
            "alertname": Self.cut(alert.labels["alertname"] ?? "-", 200), "target": Self.cut(target, 200), "receiver": alert.receiver,
            "reference": AlertReference(fingerprint: alert.fingerprint, receiver: alert.receiver).description,
        ]
        if let summary = alert.annotations["summary"] ?? alert.annotations["description"] { row["summary"] = Self.cut(summary, 300) }
        return row
    }

    /// Every channel alerts can post to, and whether a storm is open on it.
    func storms() async throws -> [[String: Any]] {
        var channels = Set(alertmanager.receivers.compactMap(\.channel) + alertmanager.routes.map(\.channel))
        if let defaultChannel { channels.insert(defaultChannel) }
        channels.insert(OutboxMessage.webChannel)
        var rows: [[String: Any]] = []
        for channel in channels.sorted() {
            var row: [String: Any] = ["channel": channel]
            if let storm = try await store.storms.active(channel: channel) {
                row["storm"] = true
                row["state"] = "storm since \(Self.time(storm.startedAt)): \(storm.firing) firing, \(storm.resolved) resolved in "
                    + "\(storm.groupCount) groups; diagnosing the top \(storm.diagnoseTop)"
            } else {
                row["state"] = "calm"
            }
            rows.append(row)
        }
        return rows
    }
}
