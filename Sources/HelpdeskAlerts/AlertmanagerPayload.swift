import Foundation
import HelpdeskCore

/// Alertmanager's webhook body (`version` "4").
public struct AlertmanagerPayload: Sendable, Decodable, Equatable {
    public struct Alert: Sendable, Decodable, Equatable {
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

    /// Parses and checks the body, or says what is wrong with it. Read with ``JSONReader`` and
    /// mapped by hand (`JSONDecoder` was a sixth of the webhook's CPU); the `Decodable` conformance
    /// stays as the reference the fuzz target compares this with.
    public static func parse(_ data: Data) throws(PayloadError) -> AlertmanagerPayload {
        let json: JSONValue
        do {
            json = try JSONReader.parse(data)
        } catch {
            throw PayloadError(message: "not JSON: \(error)")
        }
        // PostgreSQL's text cannot hold NUL: a notification carrying one would fail its write on every
        // retry. Refused here, for every store, as the malformed input it is. Checked on the decoded
        // text, so an escaped backslash before "u0000" is not taken for one.
        if Self.holdsNUL(json) {
            throw PayloadError(message: "text in the payload may not contain NUL characters (\\u0000)")
        }
        let payload: AlertmanagerPayload
        do {
            payload = try AlertmanagerPayload(json: json)
        } catch {
            throw PayloadError(message: "not an Alertmanager webhook payload: \(error.message)")
        }
        guard payload.version == "4" else { throw PayloadError(message: "unsupported payload version \"\(payload.version)\"; expected \"4\"") }
        for alert in payload.alerts where alert.fingerprint.isEmpty || !["firing", "resolved"].contains(alert.status) {
            throw PayloadError(message: "every alert needs a fingerprint and a status of firing or resolved")
        }
        return payload
    }

    private static func holdsNUL(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): return text.utf8.contains(0)
        case .array(let items): return items.contains(where: holdsNUL)
        case .object(let fields): return fields.contains { $0.key.utf8.contains(0) || holdsNUL($0.value) }
        default: return false
        }
    }

    init(json: JSONValue) throws(PayloadError) {
        let fields = try Fields(json, path: "the payload")
        version = try fields.string("version")
        groupKey = try fields.string("groupKey")
        truncatedAlerts = try fields.optionalInt("truncatedAlerts")
        status = try fields.string("status")
        receiver = try fields.string("receiver")
        groupLabels = try fields.optionalLabels("groupLabels")
        commonLabels = try fields.optionalLabels("commonLabels")
        commonAnnotations = try fields.optionalLabels("commonAnnotations")
        externalURL = try fields.optionalString("externalURL")
        guard case .array(let items)? = fields.object["alerts"] else { throw fields.problem("alerts", "must be an array") }
        var alerts: [Alert] = []
        alerts.reserveCapacity(items.count)
        for (number, item) in items.enumerated() {
            let alert = try Fields(item, path: "alerts[\(number)]")
            alerts.append(Alert(status: try alert.string("status"), labels: try alert.labels("labels"), annotations: try alert.labels("annotations"),
                                startsAt: try alert.string("startsAt"), endsAt: try alert.optionalString("endsAt"),
                                generatorURL: try alert.optionalString("generatorURL"), fingerprint: try alert.string("fingerprint")))
        }
        self.alerts = alerts
    }
}

/// One JSON object being mapped, and where it is, for messages (`alerts[3].labels: …`).
private struct Fields {
    let object: [String: JSONValue]
    let path: String

    init(_ value: JSONValue, path: String) throws(PayloadError) {
        guard case .object(let object) = value else { throw PayloadError(message: "\(path) must be an object") }
        self.object = object
        self.path = path
    }

    func problem(_ key: String, _ what: String) -> PayloadError {
        PayloadError(message: "\(path).\(key) \(what)")
    }

    func string(_ key: String) throws(PayloadError) -> String {
        guard case .string(let text)? = object[key] else { throw problem(key, object[key] == nil ? "is missing" : "must be a string") }
        return text
    }

    /// Absent or null is nil, as `Decodable` reads an optional.
    func optionalString(_ key: String) throws(PayloadError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw problem(key, "must be a string")
        }
    }

    func optionalInt(_ key: String) throws(PayloadError) -> Int? {
        switch object[key] {
        case nil, .null?: return nil
        case .number(let number)?:
            guard number.rounded() == number, let whole = Int(exactly: number) else { throw problem(key, "must be a whole number") }
            return whole
        default: throw problem(key, "must be a number")
        }
    }

    func labels(_ key: String) throws(PayloadError) -> [String: String] {
        guard let labels = try optionalLabels(key) else { throw problem(key, object[key] == nil ? "is missing" : "must be an object of strings") }
        return labels
    }

    func optionalLabels(_ key: String) throws(PayloadError) -> [String: String]? {
        switch object[key] {
        case nil, .null?: return nil
        case .object(let values)?:
            var labels: [String: String] = [:]
            labels.reserveCapacity(values.count)
            for (name, value) in values {
                guard case .string(let text) = value else { throw problem(key, "must be an object of strings (\(name) is not)") }
                labels[name] = text
            }
            return labels
        default: throw problem(key, "must be an object of strings")
        }
    }
}

public struct PayloadError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
