import Crypto
import Foundation
import HelpdeskCore

/// An event to append to the audit log.
public struct AuditDraft: Sendable, Equatable {
    /// `request_received`, `policy_decision`, `tool_call`, `approval_created`, `approval_decided`,
    /// `approval_expired`, `message_sent`, `alert_received`, …
    public var kind: String
    public var principal: String?
    public var target: String?
    public var data: JSONValue

    public init(kind: String, principal: String? = nil, target: String? = nil, data: JSONValue = .object([:])) {
        self.kind = kind
        self.principal = principal
        self.target = target
        self.data = data
    }
}

/// An event as stored: its place in the chain and the hashes that seal it.
public struct AuditEvent: Sendable, Equatable, Codable {
    public var seq: Int64
    public var id: String
    public var at: Date
    public var kind: String
    public var principal: String?
    public var target: String?
    /// Canonical JSON (sorted keys) of the event's data.
    public var data: String
    public var prevHash: String
    public var hash: String

    enum CodingKeys: String, CodingKey {
        case seq, id, at, kind, principal, target, data, prevHash = "prev_hash", hash
    }
}

/// The result of checking the chain from its first event.
public struct AuditVerification: Sendable, Equatable, Codable {
    public var ok: Bool
    public var checked: Int
    /// The first event that does not fit the chain, and how.
    public var brokenAt: Int64?
    public var brokenID: String?
    public var problem: String?

    enum CodingKeys: String, CodingKey {
        case ok, checked, brokenAt = "broken_at_seq", brokenID = "broken_event_id", problem
    }
}

/// The hash-chained audit log: append-only, each event sealing the one before it.
public protocol AuditLog: Sendable {
    func events(since: Date?, limit: Int) async throws -> [AuditEvent]
    func event(id: String) async throws -> AuditEvent?
    func verify() async throws -> AuditVerification
}

/// The canonical encoding an event's hash covers: every field, in a fixed order, plus the
/// previous hash. Times are whole microseconds so the value survives a round trip through storage.
public enum AuditHashing {
    public static let genesis = String(repeating: "0", count: 64)

    /// Lowercase hex SHA-256 of the canonical encoding.
    public static func hash(_ canonical: String) -> String {
        SHA256.hash(data: Data(canonical.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public static func canonical(seq: Int64, id: String, atMicroseconds: Int64, kind: String, principal: String?, target: String?,
                                 data: String, prevHash: String) -> String {
        let fields: [String: JSONValue] = [
            "seq": .number(Double(seq)), "id": .string(id), "at_us": .string(String(atMicroseconds)), "kind": .string(kind),
            "principal": principal.map(JSONValue.string) ?? .null, "target": target.map(JSONValue.string) ?? .null,
            "data": .string(data), "prev_hash": .string(prevHash),
        ]
        return JSONValue.object(fields).jsonText
    }
}
