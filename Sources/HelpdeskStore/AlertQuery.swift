import Foundation
import HelpdeskCore

/// Which stored alerts to list: all, or only those still firing (no resolved record for the
/// episode yet), received since a time, newest first.
public struct AlertQuery: Sendable, Equatable {
    public var firingOnly: Bool
    public var since: Date?
    public var limit: Int

    public init(firingOnly: Bool = false, since: Date? = nil, limit: Int = 100) {
        self.firingOnly = firingOnly
        self.since = since
        self.limit = limit
    }
}

/// One stored alert record, as `helpdesk alerts list` and `GET /api/v1/alerts` show it.
public struct StoredAlert: Sendable, Equatable, Codable {
    public var fingerprint: String
    public var startsAt: String
    public var status: String
    public var groupKey: String
    public var receiver: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var endsAt: String?
    public var generatorURL: String?
    public var receivedAt: Date


    public init(fingerprint: String, startsAt: String, status: String, groupKey: String, receiver: String, labels: [String: String],
                annotations: [String: String], endsAt: String?, generatorURL: String?, receivedAt: Date) {
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
    }
}
