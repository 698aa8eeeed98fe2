import Foundation
import HelpdeskCore

/// One alert of an Alertmanager notification, as recorded. A firing episode is keyed by
/// fingerprint and `startsAt`; the same episode arriving again (Alertmanager re-sends groups on
/// every group and repeat interval) updates nothing and starts nothing.
public struct AlertRecord: Sendable, Equatable {
    public var fingerprint: String
    public var startsAt: String
    public var status: String
    public var groupKey: String
    public var receiver: String
    public var labels: JSONValue
    public var annotations: JSONValue
    public var endsAt: String?
    public var generatorURL: String?
    public var receivedAt: Date
    /// Enqueued only if this (fingerprint, startsAt, status) is new.
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
        self.endsAt = endsAt
        self.generatorURL = generatorURL
        self.receivedAt = receivedAt
        self.onNew = onNew
    }
}
