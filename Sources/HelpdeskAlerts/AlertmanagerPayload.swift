import Foundation
import HelpdeskCore

/// Alertmanager's webhook body (`version` "4").
public struct AlertmanagerPayload: Sendable, Decodable {
    public struct Alert: Sendable, Decodable {
        public var status: String
        public var labels: [String: String]
        public var annotations: [String: String]
        public var startsAt: String
        public var endsAt: String?
        public var generatorURL: String?
        public var fingerprint: String
    }

    public var version: String
    public var groupKey: String
    public var truncatedAlerts: Int?
    public var status: String
    public var receiver: String
    public var groupLabels: [String: String]?
    public var commonLabels: [String: String]?
    public var commonAnnotations: [String: String]?
    public var externalURL: String?
    public var alerts: [Alert]

    /// The receiver name as configured: Alertmanager regex-escapes it (`chat.ops` arrives as `chat\.ops`).
    public var receiverName: String {
        var name = ""
        var escaped = false
        for character in receiver {
            if character == "\\", !escaped { escaped = true; continue }
            name.append(character)
            escaped = false
        }
        return name
    }

    /// Parses and checks the body, or says what is wrong with it.
    public static func parse(_ data: Data) throws(PayloadError) -> AlertmanagerPayload {
        let payload: AlertmanagerPayload
        do {
            payload = try JSONDecoder().decode(AlertmanagerPayload.self, from: data)
        } catch let error as DecodingError {
            throw PayloadError(message: "not an Alertmanager webhook payload: \(describeDecodingError(error))")
        } catch {
            throw PayloadError(message: "not JSON: \(error)")
        }
        guard payload.version == "4" else { throw PayloadError(message: "unsupported payload version \"\(payload.version)\"; expected \"4\"") }
        for alert in payload.alerts where alert.fingerprint.isEmpty || !["firing", "resolved"].contains(alert.status) {
            throw PayloadError(message: "every alert needs a fingerprint and a status of firing or resolved")
        }
        return payload
    }
}

public struct PayloadError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
