import Crypto
import Foundation
import HelpdeskConfig
import HelpdeskCore

/// Slack's request signing: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the
/// signing secret, and a timestamp within five minutes of now (replay protection).
public enum SlackSignature {
    /// Why a request was refused; goes to the log and a metric label, never to the caller.
    public enum Failure: String, Sendable, Error, CaseIterable {
        case missingHeaders = "missing_headers"
        case badTimestamp = "bad_timestamp"
        case stale
        case mismatch
    }

    public static let replayWindow: TimeInterval = 300

    /// A signing secret with its HMAC key set up once: each request copies it instead of hashing the
    /// key's two pad blocks again (nearly half of the signature check's CPU on the signed ack).
    public struct Key: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        let keyed: HMAC<SHA256>

        // The keyed state is as good as the secret for forging signatures: never printed, not even by dump().
        public var description: String { "<redacted signing key>" }
        public var debugDescription: String { description }
        public var customMirror: Mirror { Mirror(self, children: []) }

        public init(_ secret: Secret) {
            keyed = HMAC(key: SymmetricKey(data: Array(secret.reveal().utf8)))
        }
    }

    /// `nil` when the request is authentic under one of `keys` (the current secret's, and the
    /// previous one's while a rotation lasts).
    public static func verify(body: some Collection<UInt8>, timestamp: String?, signature: String?, keys: [Key],
                              now: Date) -> Failure? {
        guard let timestamp, let signature else { return .missingHeaders }
        guard let seconds = Int64(timestamp) else { return .badTimestamp }
        guard abs(now.timeIntervalSince1970 - Double(seconds)) <= replayWindow else { return .stale }
        let presented = Array(signature.utf8)
        var matched = false
        // Every key is tried, so the time taken does not say which one matched.
        for key in keys {
            matched = constantTimeEquals(signatureBytes(body: body, timestamp: timestamp, key: key), presented) || matched
        }
        return matched ? nil : .mismatch
    }

    /// `nil` when the request is authentic under one of `secrets`.
    public static func verify(body: some Collection<UInt8>, timestamp: String?, signature: String?, secrets: [Secret],
                              now: Date) -> Failure? {
        verify(body: body, timestamp: timestamp, signature: signature, keys: secrets.map(Key.init), now: now)
    }

    /// `nil` when the request is authentic under `secret`.
    public static func verify(body: some Collection<UInt8>, timestamp: String?, signature: String?, secret: Secret, now: Date) -> Failure? {
        verify(body: body, timestamp: timestamp, signature: signature, secrets: [secret], now: now)
    }

    /// The secrets a request may be signed with at `now`: the current one, and the previous one
    /// until `slack.previous_signing_secret_until` (inclusive).
    public static func acceptedSecrets(current: Secret, previous: SlackSettings.PreviousSigningSecret?, now: Date) -> [Secret] {
        guard let previous, now <= previous.until else { return [current] }
        return [current, previous.secret]
    }

    /// The `X-Slack-Signature` value for a body, as Slack computes it.
    public static func sign(body: some Collection<UInt8>, timestamp: String, secret: Secret) -> String {
        String(decoding: signatureBytes(body: body, timestamp: timestamp, key: Key(secret)), as: UTF8.self)
    }

    /// `v0=` and the lowercase hex digest, as ASCII bytes: compared without building a String.
    static func signatureBytes(body: some Collection<UInt8>, timestamp: String, key: Key) -> [UInt8] {
        var message = Array("v0:\(timestamp):".utf8)
        message.append(contentsOf: body)
        var mac = key.keyed
        mac.update(data: message)
        let code = mac.finalize()
        var output: [UInt8] = Array("v0=".utf8)
        output.reserveCapacity(3 + 2 * SHA256.byteCount)
        for byte in code {
            output.append(hexDigits[Int(byte >> 4)])
            output.append(hexDigits[Int(byte & 0x0F)])
        }
        return output
    }

    /// Table-driven hex: `String(format:)` per byte was a fifth of the signed ack's CPU.
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
