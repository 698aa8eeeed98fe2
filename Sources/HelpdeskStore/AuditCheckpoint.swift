import Crypto
import Foundation
import HelpdeskCore

/// A signed statement that the audit log once reached `seq` with head `hash`. Kept outside the
/// store file (a file beside it, a log line, the end of an export), it lets verification notice
/// events deleted from the end of the log, which the chain alone cannot show.
public struct AuditCheckpoint: Sendable, Equatable, Codable {
    public var seq: Int64
    public var hash: String
    /// When it was made, ISO 8601 as written: the MAC covers this text.
    public var at: String
    /// The audit key that signed it, or ``unkeyedID`` for a plain SHA-256 checksum.
    public var keyID: String
    public var mac: String

    public static let unkeyedID = "none"

    enum CodingKeys: String, CodingKey {
        case seq, hash, at, keyID = "key_id", mac
    }

    /// Seals `head` with the keyring's current key (a plain checksum when there is none).
    public static func sign(_ head: AuditHead, at date: Date, keyring: AuditKeyring) -> AuditCheckpoint {
        let at = date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        var checkpoint = AuditCheckpoint(seq: head.seq, hash: head.hash, at: at, keyID: keyring.current?.id ?? unkeyedID, mac: "")
        checkpoint.mac = checkpoint.expectedMAC(key: keyring.current)
        return checkpoint
    }

    private var sealedText: Data {
        Data("helpdesk-audit-checkpoint-1\n\(seq)\n\(hash)\n\(at)\n\(keyID)\n".utf8)
    }

    private func expectedMAC(key: AuditKey?) -> String {
        guard let key else { return Hex.encode(SHA256.hash(data: sealedText)) }
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: sealedText, using: key.key))
    }

    /// `nil` when the MAC holds under `keyring`, else why it cannot be trusted.
    func macProblem(keyring: AuditKeyring) -> (status: AuditCheckpointCheck.Status, message: String)? {
        let key: AuditKey?
        if keyID == Self.unkeyedID {
            if keyring.isKeyed {
                return (.unsigned, "the checkpoint of \(at) is not signed (key_id=none) although an audit key is configured: " +
                        "it may have been replaced to hide deleted events")
            }
            key = nil
        } else {
            guard let known = keyring.key(id: keyID) else {
                return (.unknownKey, "the checkpoint of \(at) was signed with audit key id \"\(keyID)\", which is not configured " +
                        "(configured: \(keyring.idsDescription)); set it as audit.key_id or audit.previous_key_id to verify it")
            }
            key = known
        }
        guard constantTimeEquals(Array(mac.utf8), Array(expectedMAC(key: key).utf8)) else {
            return (.badMAC, "the checkpoint of \(at) (seq \(seq)) does not verify: its MAC is wrong, so it was forged or altered")
        }
        return nil
    }

    /// `audit checkpoint seq=57 hash=… at=… key_id=k1 mac=…`: the file's content and the log line.
    public var line: String {
        "audit checkpoint seq=\(seq) hash=\(hash) at=\(at) key_id=\(keyID) mac=\(mac)"
    }

    /// `{"checkpoint": {…}}`: the last line of `helpdesk audit export`.
    public var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(["checkpoint": self])).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Reads a checkpoint from the last non-empty line of `text`, in either form (a checkpoint
    /// file, a log line, or an export); `nil` when that line is not one.
    public static func parse(_ text: String) -> AuditCheckpoint? {
        guard let last = text.split(whereSeparator: \.isNewline).last(where: { !$0.allSatisfy(\.isWhitespace) }) else { return nil }
        let line = last.trimmingCharacters(in: .whitespaces)
        if line.hasPrefix("{") {
            struct Wrapper: Decodable { var checkpoint: AuditCheckpoint }
            return (try? JSONDecoder().decode(Wrapper.self, from: Data(line.utf8)))?.checkpoint
        }
        guard let start = line.range(of: "audit checkpoint ") else { return nil }  // a log line has a prefix
        var fields: [String: String] = [:]
        for pair in line[start.upperBound...].split(separator: " ") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            fields[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        guard let seq = fields["seq"].flatMap({ Int64($0) }), seq >= 0, let hash = fields["hash"], let at = fields["at"],
              let keyID = fields["key_id"], let mac = fields["mac"] else { return nil }
        return AuditCheckpoint(seq: seq, hash: hash, at: at, keyID: keyID, mac: mac)
    }

    /// Reads the checkpoint kept at `path`; `nil` when there is no file yet.
    public static func read(file path: String) throws(AuditCheckpointError) -> AuditCheckpoint? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable(path: path, reason: describeFileError(error))
        }
        guard let checkpoint = parse(text) else { throw .malformed(path: path) }
        return checkpoint
    }

    /// Replaces the file at `path` all at once (a temporary file beside it, flushed, then renamed),
    /// so a crash leaves the old checkpoint or the new one, never half of one.
    public func write(to path: String) throws(AuditCheckpointError) {
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            guard FileManager.default.createFile(atPath: temporary, contents: Data((line + "\n").utf8)) else {
                throw CocoaError(.fileWriteUnknown)
            }
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: temporary))
            try handle.synchronize()
            try handle.close()
            guard rename(temporary, path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw .unwritable(path: path, reason: describeFileError(error))
        }
    }
}

/// Where ``AuditLog/verify(checkpoint:)`` takes the checkpoint to compare the log's end with.
public enum AuditCheckpointSource: Sendable {
    /// The store's checkpoint file (see ``AuditChain``), when one is configured.
    case configured
    /// This one (from `--checkpoint`), named `source` in the report.
    case given(AuditCheckpoint, source: String)
    /// Only the chain is checked.
    case none
}

/// How the end of the log compares with a checkpoint.
public struct AuditCheckpointCheck: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case ok, missingEvents = "missing_events", rewritten, badMAC = "bad_mac", unknownKey = "unknown_key", unsigned
        case unreadable, absent
    }

    public var status: Status
    public var source: String
    public var seq: Int64?
    public var at: String?
    public var keyID: String?
    public var message: String

    /// Whether the checkpoint shows (or cannot rule out) tampering; `absent` only warns.
    public var failed: Bool { status != .ok && status != .absent }

    enum CodingKeys: String, CodingKey {
        case status, source, seq, at, keyID = "key_id", message
    }
}

public enum AuditCheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(path: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read the audit checkpoint \(path): \(reason)"
        case .malformed(let path): "\(path) holds no audit checkpoint line (audit checkpoint seq=… hash=… at=… key_id=… mac=…)"
        case .unwritable(let path, let reason): "cannot write the audit checkpoint \(path): \(reason)"
        }
    }
}
