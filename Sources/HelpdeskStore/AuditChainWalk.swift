import Foundation
import GRDB

/// One pass over the chain, oldest first: each event's seal must match its fields (under the key its
/// `key_id` names, or plain SHA-256 when it has none), its `prev_hash` the event before, and its
/// `seq` the next number. The first event that does not fit is where the chain was broken.
///
/// A follower of the log (secbot) checks events as it reads them, from where it stands:
///
/// ```swift
/// var walk = AuditChainWalk(keyring: chain.keyring, after: AuditHead(seq: 41, hash: previousHash))
/// if let broken = walk.check(event42) { report(broken.problem) }
/// ```
public struct AuditChainWalk: Sendable {
    let keyring: AuditKeyring
    private var expectedPrev = AuditHashing.genesis
    private var expectedSeq: Int64 = 1
    private var checked = 0
    private var keyed = 0
    private var unkeyed = 0

    init(keyring: AuditKeyring) {
        self.keyring = keyring
    }

    /// A walk that starts after `head`, the last event already checked (from the first event when `nil`).
    public init(keyring: AuditKeyring, after head: AuditHead?) {
        self.keyring = keyring
        if let head {
            expectedPrev = head.hash
            expectedSeq = head.seq + 1
        }
    }

    /// ``check(_:)`` for an event as the store's readers return it. A broken event does not move the
    /// walk on: start a new walk after it to go on checking the events that follow.
    public mutating func check(_ event: AuditEvent) -> AuditVerification? {
        // `at` holds whole microseconds (at_us / 10^6); rounding gives them back exactly.
        check(seq: event.seq, id: event.id, atMicroseconds: Int64((event.at.timeIntervalSince1970 * 1_000_000).rounded()),
              kind: event.kind, principal: event.principal, target: event.target, data: event.data, prevHash: event.prevHash,
              hash: event.hash, keyID: event.keyID)
    }

    /// The last event that fit (`nil` before the first).
    public var head: AuditHead? {
        expectedSeq > 1 ? AuditHead(seq: expectedSeq - 1, hash: expectedPrev) : nil
    }

    var result: AuditVerification {
        var result = AuditVerification(ok: true, checked: checked)
        result.keyed = keyed
        result.unkeyed = unkeyed
        result.lastSeq = expectedSeq - 1
        return result
    }

    /// `nil` while the chain holds; else the verification that names where it broke.
    mutating func check(_ row: Row) -> AuditVerification? {
        check(seq: row["seq"], id: row["id"], atMicroseconds: row["at_us"], kind: row["kind"], principal: row["principal"],
              target: row["target"], data: row["data"], prevHash: row["prev_hash"], hash: row["hash"], keyID: row["key_id"])
    }

    /// ``check(_:)`` from an event's stored fields, for a store that reads no GRDB rows (PostgreSQL's).
    mutating func check(seq: Int64, id: String, atMicroseconds: Int64, kind: String, principal: String?, target: String?,
                        data: String, prevHash: String, hash stored: String, keyID: String?) -> AuditVerification? {
        func broken(_ problem: String, keyID: String? = nil) -> AuditVerification {
            var result = AuditVerification(ok: false, checked: checked, brokenAt: seq, brokenID: id, problem: problem)
            result.unverifiableKeyID = keyID
            result.keyed = keyed
            result.unkeyed = unkeyed
            result.lastSeq = seq
            return result
        }
        if seq != expectedSeq {
            return broken(seq > expectedSeq ? "events \(expectedSeq)…\(seq - 1) are missing (deleted)" : "sequence number \(seq) repeats or goes back")
        }
        if prevHash != expectedPrev {
            return broken("its prev_hash does not match the event before it (an event was inserted, deleted or reordered)")
        }
        let hash: String
        if let keyID {
            guard let key = keyring.key(id: keyID) else {
                return broken("it was sealed with audit key id \"\(keyID)\", which is not configured (configured: \(keyring.idsDescription)), " +
                              "so it and the events after it cannot be verified: set that key as audit.key or audit.previous_key", keyID: keyID)
            }
            hash = AuditHashing.keyedHash(key: key.key, keyID: keyID, seq: seq, id: id, atMicroseconds: atMicroseconds, kind: kind,
                                          principal: principal, target: target, data: data, prevHash: prevHash)
        } else {
            if keyed > 0 {
                return broken("it is unkeyed but follows keyed events: the chain was re-hashed without the audit key, " +
                              "or a process without HELPDESK_AUDIT_KEY (or audit.key_file) wrote to the store")
            }
            hash = AuditHashing.hash(AuditHashing.canonical(seq: seq, id: id, atMicroseconds: atMicroseconds, kind: kind,
                                                            principal: principal, target: target, data: data, prevHash: prevHash))
        }
        if hash != stored {
            return broken(keyID == nil ? "its contents do not match its hash (the event was edited)"
                          : "its contents do not match its HMAC under audit key \(keyID) (the event was edited, " +
                            "or the chain was re-hashed without the key)")
        }
        if keyID == nil { unkeyed += 1 } else { keyed += 1 }
        expectedPrev = stored
        expectedSeq += 1
        checked += 1
        return nil
    }
}
