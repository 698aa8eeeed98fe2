import Crypto
import Foundation
import HelpdeskCore

/// An event to append to the audit log.
public struct AuditDraft: Sendable, Equatable {
    /// `request_received`, `policy_decision`, `tool_call`, `approval_created`, `approval_decided`,
    /// `approval_expired`, `message_sent`, `alert_received`, …
    // Read-only after init, which also cleans them and encodes `data`, on the caller's thread:
    // the single writer then only hashes and inserts.
    public private(set) var kind: String
    public private(set) var principal: String?
    public private(set) var target: String?
    public private(set) var data: JSONValue
    /// `data` as the JSON text that is stored and hashed.
    let dataText: String
    /// The fields as JSON string literals for the unkeyed canonical text, escaped here so the
    /// writer only concatenates (escaping inside the single write section was most of its CPU).
    let literals: AuditHashing.Literals

    public init(kind: String, principal: String? = nil, target: String? = nil, data: JSONValue = .object([:])) {
        // SQLite text ends at a NUL while the hash covers the whole string: a NUL from outside
        // would make the stored event differ from its hash, so it is stored as U+FFFD.
        self.kind = Self.storable(kind)
        self.principal = principal.map(Self.storable)
        self.target = target.map(Self.storable)
        self.data = data
        dataText = data.jsonText
        literals = AuditHashing.Literals(kind: self.kind, principal: self.principal, target: self.target, data: dataText)
    }

    static func storable(_ text: String) -> String {
        // A byte scan: Foundation's String.contains(String) bridged every request's three strings.
        text.utf8.contains(0) ? text.replacingOccurrences(of: "\0", with: "\u{FFFD}") : text
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
    /// The audit key the hash was made with; `nil` for a plain SHA-256 (unkeyed) event.
    public var keyID: String?

    enum CodingKeys: String, CodingKey {
        case seq, id, at, kind, principal, target, data, prevHash = "prev_hash", hash, keyID = "key_id"
    }
}

/// The last event of the chain: what a checkpoint seals.
public struct AuditHead: Sendable, Equatable {
    public var seq: Int64
    public var hash: String

    public init(seq: Int64, hash: String) {
        self.seq = seq
        self.hash = hash
    }
}

/// The result of checking the chain from its first event, and its end against a checkpoint.
public struct AuditVerification: Sendable, Equatable, Codable {
    public var ok: Bool
    public var checked: Int
    /// The first event that does not fit the chain, and how.
    public var brokenAt: Int64?
    public var brokenID: String?
    public var problem: String?
    /// Set when verification stopped at an event hashed with a key id that is not configured.
    public var unverifiableKeyID: String?
    /// Events sealed with an audit key, and plain SHA-256 ones (written before a key was set).
    public var keyed = 0
    public var unkeyed = 0
    /// The last sequence number in the log (0 when empty).
    public var lastSeq: Int64 = 0
    /// How the end of the log compares with the checkpoint, when there was one to compare with.
    public var checkpoint: AuditCheckpointCheck?

    public init(ok: Bool, checked: Int, brokenAt: Int64? = nil, brokenID: String? = nil, problem: String? = nil) {
        self.ok = ok
        self.checked = checked
        self.brokenAt = brokenAt
        self.brokenID = brokenID
        self.problem = problem
    }

    enum CodingKeys: String, CodingKey {
        case ok, checked, brokenAt = "broken_at_seq", brokenID = "broken_event_id", problem
        case unverifiableKeyID = "unverifiable_key_id", keyed, unkeyed, lastSeq = "last_seq", checkpoint
    }
}

/// The hash-chained audit log: append-only, each event sealing the one before it.
public protocol AuditLog: Sendable {
    func events(since: Date?, limit: Int) async throws -> [AuditEvent]
    func event(id: String) async throws -> AuditEvent?
    /// The last event's place and hash; `nil` while the log is empty. One indexed read.
    func head() async throws -> AuditHead?
    /// The hash stored for `seq`, or `nil` when there is no such event. One indexed read.
    func hash(at seq: Int64) async throws -> String?
    /// Walks the chain with the store's audit keys, then compares its end with `checkpoint`.
    func verify(checkpoint: AuditCheckpointSource) async throws -> AuditVerification
    /// The newest `limit` events that match every field `filter` sets, newest first (the web
    /// channel's audit view); `events(since:limit:)` reads oldest first, for exports. A filter by
    /// principal that names no kind, or `request_received`, looks only through the newest
    /// ``AuditFilter/principalScanWindow`` events (before `beforeSeq`): no index serves it.
    func latest(_ filter: AuditFilter, limit: Int) async throws -> [AuditEvent]
    /// Up to `limit` events with `seq > afterSeq`, oldest first: one indexed read, for followers of the
    /// log (secbot) that remember the last seq they examined.
    func events(afterSeq seq: Int64, limit: Int) async throws -> [AuditEvent]
}

/// Which audit events to show: each field set must match exactly; `nil` matches anything.
public struct AuditFilter: Sendable, Equatable {
    public var principal: String?
    public var kind: String?
    public var target: String?
    /// Only events before this place in the chain (what was on record when an event was written).
    public var beforeSeq: Int64?

    /// How many of the newest events a lookup by principal alone (or of its requests) reads: the index
    /// by principal leaves every command's `request_received` out (schema 19), so it is a scan.
    public static let principalScanWindow: Int64 = 100_000
    /// The kind the index by principal leaves out.
    public static let unindexedByPrincipal = "request_received"

    /// Whether ``principalScanWindow`` bounds this lookup.
    public var scansByPrincipal: Bool {
        principal != nil && (kind == nil || kind == Self.unindexedByPrincipal)
    }

    public init(principal: String? = nil, kind: String? = nil, target: String? = nil, beforeSeq: Int64? = nil) {
        self.principal = principal
        self.kind = kind
        self.target = target
        self.beforeSeq = beforeSeq
    }
}

extension AuditLog {
    /// Verifies against the checkpoint file configured for the store (if any).
    public func verify() async throws -> AuditVerification {
        try await verify(checkpoint: .configured)
    }
}

/// The canonical encodings an event's hash covers: every field, in a fixed order, plus the previous
/// hash. Times are whole microseconds so the value survives a round trip through storage.
public enum AuditHashing {
    public static let genesis = String(repeating: "0", count: 64)

    /// Lowercase hex SHA-256 of the canonical encoding (unkeyed events).
    public static func hash(_ canonical: String) -> String {
        var canonical = canonical
        return canonical.withUTF8 { Hex.encode(SHA256.hash(data: UnsafeRawBufferPointer($0))) }
    }

    /// The unkeyed (version 1) encoding: sorted-key JSON. Kept byte for byte so chains written
    /// before audit keys existed still verify.
    public static func canonical(seq: Int64, id: String, atMicroseconds: Int64, kind: String, principal: String?, target: String?,
                                 data: String, prevHash: String) -> String {
        let fields: [String: JSONValue] = [
            "seq": .number(Double(seq)), "id": .string(id), "at_us": .string(String(atMicroseconds)), "kind": .string(kind),
            "principal": principal.map(JSONValue.string) ?? .null, "target": target.map(JSONValue.string) ?? .null,
            "data": .string(data), "prev_hash": .string(prevHash),
        ]
        return JSONValue.object(fields).jsonText
    }

    /// An event's own fields as JSON literals (`null` for an absent one): the parts of the
    /// canonical text that do not depend on the event's place in the chain.
    public struct Literals: Sendable, Equatable {
        let kind: String
        let principal: String
        let target: String
        let data: String

        init(kind: String, principal: String?, target: String?, data: String) {
            self.kind = JSONValue.stringLiteral(kind)
            self.principal = principal.map(JSONValue.stringLiteral) ?? "null"
            self.target = target.map(JSONValue.stringLiteral) ?? "null"
            self.data = JSONValue.stringLiteral(data)
        }
    }

    /// ``canonical(seq:id:atMicroseconds:kind:principal:target:data:prevHash:)`` from literals
    /// made beforehand: the same bytes, keys in the same sorted order. `id` and `prevHash` are
    /// written unescaped: the writer makes both (`evt_…` and lowercase hex).
    static func canonical(seq: Int64, id: String, atMicroseconds: Int64, literals: Literals, prevHash: String) -> String {
        var text = #"{"at_us":""#
        text.reserveCapacity(literals.data.utf8.count + literals.kind.utf8.count + literals.principal.utf8.count
                             + literals.target.utf8.count + 200)
        text += String(atMicroseconds)
        text += #"","data":"#
        text += literals.data
        text += #","id":""#
        text += id
        text += #"","kind":"#
        text += literals.kind
        text += #","prev_hash":""#
        text += prevHash
        text += #"","principal":"#
        text += literals.principal
        text += #","seq":"#
        text += String(seq)
        text += #","target":"#
        text += literals.target
        text += "}"
        return text
    }

    /// The keyed (version 2) seal: HMAC-SHA256(key, previous hash + fields as length-prefixed text).
    /// Length prefixes make the encoding unambiguous without escaping, so it costs one pass over
    /// the bytes; the key id is sealed too, so an event cannot be moved under another key.
    public static func keyedHash(key: SymmetricKey, keyID: String, seq: Int64, id: String, atMicroseconds: Int64, kind: String,
                                 principal: String?, target: String?, data: String, prevHash: String) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(prevHash.utf8.count + data.utf8.count + id.utf8.count + kind.utf8.count + 128)
        text.append(contentsOf: prevHash.utf8)
        text.append(contentsOf: "helpdesk-audit-2\n".utf8)
        for field in [String(seq), id, String(atMicroseconds), kind, principal, target, data, keyID] {
            guard let field else {
                text.append(contentsOf: "~\n".utf8)
                continue
            }
            text.append(contentsOf: String(field.utf8.count).utf8)
            text.append(UInt8(ascii: ":"))
            text.append(contentsOf: field.utf8)
            text.append(UInt8(ascii: "\n"))
        }
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: text, using: key))
    }
}
