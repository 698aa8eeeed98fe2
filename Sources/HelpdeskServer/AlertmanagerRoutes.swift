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
/// or basic auth), decode, and hand the notification to ``AlertIntake``, whose change set the store
/// applies in one write (storm bookkeeping included); answer 200 only then, so Alertmanager's own
/// retries cover a crash before that. Repeats of a known (fingerprint, startsAt, status) change nothing.
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

    /// Every `outcome` of ``count(_:)``, for the series made at start.
    static let outcomes = ["accepted", "repeat", "malformed", "unauthorized", "not_configured"]

    private func count(_ outcome: String) {
        let requests = MetricCatalog.alertmanagerRequests
        Counter(label: requests.name, dimensions: requests.dimensions(outcome), factory: metrics).increment()
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
        let changes = AlertIntake(settings: settings, defaultChannel: defaultChannel, srebot: srebot)
            .changes(for: payload, receiver: receiver, requestID: context.requestID)
        let outcome = try await store.apply(changes)
        let fresh = outcome.newAlerts.filter { $0 }.count
        count(fresh > 0 ? "accepted" : "repeat")
        Counter(label: MetricCatalog.alertsReceived.name, factory: metrics).increment(by: payload.alerts.count)
        Counter(label: MetricCatalog.alertsDeduplicated.name, factory: metrics).increment(by: max(0, payload.alerts.count - fresh))
        context.logger.info("alerts received", metadata: ["group": "\(payload.groupKey)", "alerts": "\(payload.alerts.count)", "new": "\(fresh)"])
        return jsonResponse(status: .ok, ["status": "ok", "alerts": String(payload.alerts.count), "new": String(fresh), "storm": String(outcome.storm != nil)])
    }
}
