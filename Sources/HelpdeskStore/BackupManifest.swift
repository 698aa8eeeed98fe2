import Crypto
import Foundation
import HelpdeskCore

/// What a backup file is, written beside it as `FILE.manifest.json`: the file's SHA-256, its schema,
/// the head of its audit log, when it was written, and a MAC over all of it under the audit key
/// (``sealedText``). Restore accepts a backup only when its manifest verifies, so a file that was
/// edited, truncated or made elsewhere is refused even when its own chain looks whole.
///
/// Without an audit key the MAC is a plain SHA-256: it catches a damaged or swapped file, but anyone
/// can write a matching manifest (integrity, not authenticity).
///
/// ```json
/// {"audit_head_hash": "9f2c…", "audit_head_seq": 5120, "bytes": 4210688, "created_at": "2026-03-14T06:15:00.412Z",
///  "format": "helpdesk-backup-manifest-1", "key_id": "k1", "mac": "…", "schema_migration": "v15-alerts-per-receiver",
///  "schema_version": 15, "sha256": "…"}
/// ```
public struct BackupManifest: Sendable, Equatable, Codable {
    public static let currentFormat = "helpdesk-backup-manifest-1"

    public var format: String
    public var sha256: String
    public var bytes: Int64
    public var schemaVersion: Int
    public var schemaMigration: String
    /// 0 and the genesis hash for an empty log.
    public var auditHeadSeq: Int64
    public var auditHeadHash: String
    /// ISO 8601 as written: the MAC covers this text.
    public var createdAt: String
    /// The audit key that sealed it, or ``AuditCheckpoint/unkeyedID`` for a plain checksum.
    public var keyID: String
    public var mac: String

    enum CodingKeys: String, CodingKey {
        case format, sha256, bytes, schemaVersion = "schema_version", schemaMigration = "schema_migration"
        case auditHeadSeq = "audit_head_seq", auditHeadHash = "audit_head_hash", createdAt = "created_at", keyID = "key_id", mac
    }

    /// `FILE.manifest.json`: renaming a backup means renaming its manifest with it.
    public static func path(for backup: String) -> String {
        backup + ".manifest.json"
    }

    /// Seals the description of a backup file with the keyring's current key.
    static func seal(sha256: String, bytes: Int64, schema: SchemaStatus, head: AuditHead?, at date: Date,
                     keyring: AuditKeyring) -> BackupManifest {
        var manifest = BackupManifest(
            format: currentFormat, sha256: sha256, bytes: bytes, schemaVersion: schema.version,
            schemaMigration: schema.applied.last ?? "", auditHeadSeq: head?.seq ?? 0, auditHeadHash: head?.hash ?? AuditHashing.genesis,
            createdAt: date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)),
            keyID: keyring.current?.id ?? AuditCheckpoint.unkeyedID, mac: "")
        manifest.mac = manifest.expectedMAC(key: keyring.current)
        return manifest
    }

    /// Every field but the MAC, one a line (``vouches(sha256:bytes:keyring:)`` refuses a line break in one).
    private var sealedText: Data {
        let fields = [format, sha256, "\(bytes)", "\(schemaVersion)", schemaMigration, "\(auditHeadSeq)", auditHeadHash, createdAt, keyID]
        return Data(fields.map { $0 + "\n" }.joined().utf8)
    }

    private func expectedMAC(key: AuditKey?) -> String {
        guard let key else { return Hex.encode(SHA256.hash(data: sealedText)) }
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: sealedText, using: Self.manifestKey(key)))
    }

    /// A key of its own, derived from the audit key: a manifest MAC can never pass for an audit
    /// event's or a checkpoint's, which are HMACs under the audit key itself.
    private static func manifestKey(_ key: AuditKey) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key.key, info: Data("helpdesk backup manifest v1".utf8), outputByteCount: 32)
    }

    /// Whether this manifest vouches for a file whose bytes hash to `sha256`: how, or why not.
    func vouches(sha256 digest: String, bytes count: Int64, keyring: AuditKeyring) -> Result<BackupAuthenticity, ManifestProblem> {
        guard format == Self.currentFormat else { return .failure(.init("it has format \"\(format)\", not \(Self.currentFormat)")) }
        // One field a line: a newline inside one would let fields shift under the same MAC.
        guard ![sha256, schemaMigration, auditHeadHash, createdAt, keyID].contains(where: { $0.contains("\n") }) else {
            return .failure(.init("a field holds a line break"))
        }
        let key: AuditKey?
        if keyID == AuditCheckpoint.unkeyedID {
            if keyring.isKeyed {
                return .failure(.init("it is not signed (key_id=none) although an audit key is configured: " +
                                      "it was written without the key, or forged"))
            }
            key = nil
        } else {
            guard let known = keyring.key(id: keyID) else {
                return .failure(.init("it was signed with audit key id \"\(keyID)\", which is not configured " +
                                      "(configured: \(keyring.idsDescription)); set that key as audit.key or audit.previous_key"))
            }
            key = known
        }
        guard constantTimeEquals(Array(mac.utf8), Array(expectedMAC(key: key).utf8)) else {
            return .failure(.init("its MAC does not verify\(key == nil ? "" : " under audit key \(keyID)"), so it was forged or altered"))
        }
        guard sha256 == digest, bytes == count else {
            return .failure(.init("the file's SHA-256 is \(digest) (\(count) bytes), the manifest says \(sha256) (\(bytes) bytes): " +
                                  "the file was changed or replaced after the backup"))
        }
        return .success(key == nil ? .checksum : .signed(keyID: keyID))
    }

    struct ManifestProblem: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// The manifest beside `backup`; `nil` when there is none. A file that does not parse is refused.
    static func read(for backup: String) throws(BackupError) -> BackupManifest? {
        let path = path(for: backup)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: describeFileError(error))
        }
        guard data.count <= 64 * 1024, let manifest = try? JSONDecoder().decode(BackupManifest.self, from: data) else {
            throw .manifestRejected(path: backup, problem: "\(path) is not a backup manifest")
        }
        return manifest
    }

    /// Writes the manifest beside `backup`, whole or not at all (a private temporary, renamed).
    func write(beside backup: String) throws(BackupError) {
        let path = Self.path(for: backup)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(self) + Data("\n".utf8)
        } catch {
            throw .unwritable(path: path, reason: "\(error)")
        }
        let temporary = try BackupFiles.createPrivateTemporary(beside: path)
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            try BackupFiles.publish(temporary, as: path, overwrite: true)
        } catch {
            BackupFiles.remove(temporary)
            if let error = error as? BackupError { throw error }
            throw .unwritable(path: path, reason: describeFileError(error))
        }
    }
}
