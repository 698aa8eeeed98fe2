import Foundation
import HelpdeskCore

/// One alert of an Alertmanager notification, as recorded. A firing episode is keyed by
/// fingerprint, `startsAt` and receiver; the same episode arriving again at the same receiver
/// (Alertmanager re-sends groups on every group and repeat interval, an HA pair sends each twice)
/// updates nothing and starts nothing. Another receiver getting it records, and diagnoses, its own.
public struct AlertRecord: Sendable, Equatable {
    public var fingerprint: String
    public var startsAt: String
    public var status: String
    public var groupKey: String
    public var receiver: String
    public private(set) var labels: JSONValue
    public private(set) var annotations: JSONValue
    /// Encoded at init, on the request's thread, not in the single writer.
    public let labelsText: String
    public let annotationsText: String
    public var endsAt: String?
    public var generatorURL: String?
    public var receivedAt: Date
    /// Enqueued only if this (fingerprint, startsAt, receiver, status) is new.
    public var onNew: [NewJob]

    public init(fingerprint: String, startsAt: String, status: String, groupKey: String, receiver: String, labels: JSONValue,
                annotations: JSONValue, endsAt: String?, generatorURL: String?, receivedAt: Date, onNew: [NewJob]) {
        self.fingerprint = fingerprint
        self.startsAt = startsAt
        self.status = status
        self.groupKey = groupKey
        self.receiver = receiver
        self.labels = labels
        self.annotations = annotations
        labelsText = labels.jsonText
        annotationsText = annotations.jsonText
        self.endsAt = endsAt
        self.generatorURL = generatorURL
        self.receivedAt = receivedAt
        self.onNew = onNew
    }
}

/// Reads over received alerts, for storm control and cooldowns.
public protocol AlertIndex: Sendable {
    /// Distinct firing alerts a receiver got since `since`.
    func firingCount(receiver: String, since: Date) async throws -> Int
    /// Firing alerts a receiver got since `since`, newest first: (alertname, severity, fingerprint).
    func recentFiring(receiver: String, since: Date, limit: Int) async throws -> [(alertname: String, severity: String, fingerprint: String)]
    /// When this fingerprint last started firing before `startsAt` (an earlier episode), if ever.
    func previousEpisode(fingerprint: String, before startsAt: String) async throws -> Date?
    /// Stored alert records, newest first (`helpdesk alerts list`, `GET /api/v1/alerts`).
    func list(_ query: AlertQuery) async throws -> [StoredAlert]
    /// The newest stored record of one alert (any status), for acting on it by its fingerprint
    /// (`/helpdesk silence ALERT_ID 1h`); `nil` when no alert with it was received (or it was pruned).
    func latest(fingerprint: String) async throws -> StoredAlert?
    /// The newest stored record (any status) of one firing episode of one alert at one receiver: what a
    /// "Silence" button names. `nil` when that receiver never got it, or it was pruned.
    func instance(fingerprint: String, receiver: String, startsAt: String) async throws -> StoredAlert?
    /// The newest stored record of the alert at each receiver that got it, newest first (at most 20): one
    /// element when the fingerprint names one alert, several when `FINGERPRINT@RECEIVER` must choose.
    func latestPerReceiver(fingerprint: String) async throws -> [StoredAlert]
}
