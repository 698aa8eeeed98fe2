import Foundation
import HelpdeskCore

/// `audit:` — the key that seals the audit chain, and the signed head checkpoints kept outside the
/// store file. Optional but recommended: without a key the chain is plain SHA-256, which anyone
/// who can write the store file can recompute.
public struct AuditSettings: Sendable {
    /// Seals new events and checkpoints; from `HELPDESK_AUDIT_KEY` or `audit.key_file`.
    public var key: Secret?
    /// Recorded beside every event the key seals, so the key can be rotated.
    public var keyID = "k1"
    /// The key before a rotation: events and checkpoints it sealed still verify. From
    /// `HELPDESK_AUDIT_PREVIOUS_KEY` or `audit.previous_key_file`, with `previous_key_id`.
    public var previousKey: Secret?
    public var previousKeyID: String?
    /// Where the server keeps the latest signed checkpoint; `nil` means beside the store file.
    public var checkpointFile: String?
    /// The server writes a checkpoint every this many events (and at shutdown).
    public var checkpointEvery = 100
    /// How often each server walks the whole chain for `helpdesk_audit_chain_ok` (a walk reads every event).
    public var chainCheckInterval = Duration.seconds(300)

    public init() {}

    /// The checkpoint file for a store at `storePath`: the configured one, else `<store>.audit-checkpoint`.
    /// `audit.checkpoint_file`, else beside a SQLite store's file; with PostgreSQL (`storePath` nil)
    /// only when configured: replicas share no disk a default could point to.
    public func checkpointPath(storePath: String?) -> String? {
        checkpointFile ?? storePath.map { $0 + ".audit-checkpoint" }
    }

    init(_ section: ConfigSection) {
        key = section.secret("key", environment: "HELPDESK_AUDIT_KEY")
        keyID = section.string("key_id", default: keyID)
        previousKey = section.secret("previous_key", environment: "HELPDESK_AUDIT_PREVIOUS_KEY")
        previousKeyID = section.optionalString("previous_key_id")
        checkpointFile = section.optionalString("checkpoint_file")
        if checkpointFile?.isEmpty == true {
            section.report("checkpoint_file", "expected a file path, got an empty string")
            checkpointFile = nil
        }
        checkpointEvery = section.int("checkpoint_every", default: checkpointEvery, range: 1 ... 1_000_000)
        chainCheckInterval = section.duration("chain_check_interval", default: chainCheckInterval, range: .seconds(60) ... .seconds(86400))
        check(section)
        section.finish()
    }

    private mutating func check(_ section: ConfigSection) {
        if !Self.isValidKeyID(keyID) { section.report("key_id", Self.keyIDRule + ", got \"\(keyID)\"") }
        if let key, key.reveal().utf8.count < 16 {
            section.reportSection("the audit key (HELPDESK_AUDIT_KEY or audit.key_file) is shorter than 16 characters: " +
                                  "use a random one, such as the output of `openssl rand -hex 32`")
        }
        switch (previousKey, previousKeyID) {
        case (_?, nil):
            section.reportSection("HELPDESK_AUDIT_PREVIOUS_KEY (or audit.previous_key_file) is set without audit.previous_key_id: " +
                                  "set the id the previous key had (k1 unless key_id said otherwise)")
        case (nil, _?):
            section.report("previous_key_id", "no previous audit key resolves: set HELPDESK_AUDIT_PREVIOUS_KEY or audit.previous_key_file")
        case (_?, let id?):
            if !Self.isValidKeyID(id) {
                section.report("previous_key_id", Self.keyIDRule + ", got \"\(id)\"")
            } else if id == keyID {
                section.report("previous_key_id", "must differ from key_id \"\(keyID)\": each key needs its own id (k1, k2, …)")
            } else if key == nil {
                section.report("previous_key_id", "a previous audit key needs the current one: set HELPDESK_AUDIT_KEY or audit.key_file")
            }
        case (nil, nil):
            break
        }
        if previousKeyID == nil || previousKey == nil { previousKey = nil }
    }

    static let keyIDRule = "expected a key id of 1 to 32 letters, digits, - or _ (such as k1; \"none\" is reserved)"

    /// Ids go into checkpoint lines (`key_id=k1`), where `none` marks an unsigned checkpoint.
    static func isValidKeyID(_ id: String) -> Bool {
        (1...32).contains(id.count) && id != "none" && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
