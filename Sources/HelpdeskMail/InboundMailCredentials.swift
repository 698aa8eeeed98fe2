import Crypto
import Foundation
import HelpdeskCore

/// `Authorization` header checks for raw posts (and SendGrid's basic auth in its URL, which
/// arrives as an `Authorization: Basic` header). Comparisons take constant time.
public enum InboundMailCredentials {
    /// `Authorization: Bearer <token>` with exactly this token.
    public static func bearer(authorization: String?, token: Secret) -> Bool {
        guard let presented = credentials(authorization, scheme: "bearer") else { return false }
        return constantTimeEquals(Array(presented.utf8), Array(token.reveal().utf8))
    }

    /// `Authorization: Basic base64(user:password)` with exactly this user and password.
    public static func basic(authorization: String?, username: String, password: Secret) -> Bool {
        guard let encoded = credentials(authorization, scheme: "basic"),
              let decoded = Data(base64Encoded: encoded).map(Array.init),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { return false }
        // Both halves are compared whatever the first one said.
        let userMatches = constantTimeEquals(decoded[..<colon], Array(username.utf8))
        let passwordMatches = constantTimeEquals(decoded[(colon + 1)...], Array(password.reveal().utf8))
        return userMatches && passwordMatches
    }

    /// What follows `scheme ` in the header (the scheme is case-insensitive), trimmed.
    static func credentials(_ header: String?, scheme: String) -> String? {
        guard let header else { return nil }
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == scheme else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }
}

/// Mailgun's webhook signature: `signature` = hex HMAC-SHA256(key = the HTTP webhook signing key,
/// message = `timestamp` + `token`), with the timestamp within the replay window of now. That a
/// token is not reused is ``MailgunReplayCache``'s job.
public enum MailgunSignature {
    public struct Fields: Sendable, Equatable {
        public var timestamp: String
        public var token: String
        public var signature: String

        public init(timestamp: String, token: String, signature: String) {
            self.timestamp = timestamp
            self.token = token
            self.signature = signature
        }
    }

    /// Why a post was refused; for the log, never for the caller.
    public enum Failure: String, Sendable, Error {
        case missingFields = "missing_fields"
        case badTimestamp = "bad_timestamp"
        case stale
        case mismatch
        case replayed
    }

    /// `nil` when the fields are Mailgun's for this key and recent.
    public static func verify(_ fields: Fields?, key: Secret, now: Date, window: Duration) -> Failure? {
        guard let fields else { return .missingFields }
        guard let seconds = Int64(fields.timestamp) else { return .badTimestamp }
        guard abs(now.timeIntervalSince1970 - Double(seconds)) <= window.seconds else { return .stale }
        let expected = sign(timestamp: fields.timestamp, token: fields.token, key: key)
        return constantTimeEquals(Array(expected.utf8), Array(fields.signature.lowercased().utf8)) ? nil : .mismatch
    }

    /// The hex signature Mailgun sends for `timestamp` and `token`.
    public static func sign(timestamp: String, token: String, key: Secret) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array((timestamp + token).utf8), using: SymmetricKey(data: Array(key.reveal().utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }
}

/// SendGrid's signed webhook: `X-Twilio-Email-Event-Webhook-Signature` is a base64 DER ECDSA
/// signature (P-256, SHA-256) over `X-Twilio-Email-Event-Webhook-Timestamp` + the raw body, made
/// with the key whose public half SendGrid shows you.
public enum SendGridSignature {
    public static let signatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
    public static let timestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"

    public enum Failure: String, Sendable, Error {
        case missingHeaders = "missing_headers"
        case badTimestamp = "bad_timestamp"
        case stale
        case badSignature = "bad_signature"
        case mismatch
    }

    /// `nil` when SendGrid's key signed exactly this timestamp and body, recently.
    public static func verify(body: [UInt8], timestamp: String?, signature: String?, publicKey: P256.Signing.PublicKey,
                              now: Date, window: Duration) -> Failure? {
        guard let timestamp, let signature else { return .missingHeaders }
        guard let seconds = Int64(timestamp) else { return .badTimestamp }
        guard abs(now.timeIntervalSince1970 - Double(seconds)) <= window.seconds else { return .stale }
        guard let der = Data(base64Encoded: signature.trimmingCharacters(in: .whitespaces)),
              let parsed = try? P256.Signing.ECDSASignature(derRepresentation: der) else { return .badSignature }
        return publicKey.isValidSignature(parsed, for: Array(timestamp.utf8) + body) ? nil : .mismatch
    }
}
