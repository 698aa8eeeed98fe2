import Crypto
import Foundation
import HelpdeskCore

/// Slack's request signing: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the
/// signing secret, and a timestamp within five minutes of now (replay protection).
public enum SlackSignature {
    /// Why a request was refused; goes to the log and a metric label, never to the caller.
    public enum Failure: String, Sendable, Error {
        case missingHeaders = "missing_headers"
        case badTimestamp = "bad_timestamp"
        case stale
        case mismatch
    }

    public static let replayWindow: TimeInterval = 300

    /// `nil` when the request is authentic.
    public static func verify(body: some Collection<UInt8>, timestamp: String?, signature: String?, secret: Secret, now: Date) -> Failure? {
        guard let timestamp, let signature else { return .missingHeaders }
        guard let seconds = Int64(timestamp) else { return .badTimestamp }
        guard abs(now.timeIntervalSince1970 - Double(seconds)) <= replayWindow else { return .stale }
        let expected = sign(body: body, timestamp: timestamp, secret: secret)
        return constantTimeEquals(Array(expected.utf8), Array(signature.utf8)) ? nil : .mismatch
    }

    /// The `X-Slack-Signature` value for a body, as Slack computes it.
    public static func sign(body: some Collection<UInt8>, timestamp: String, secret: Secret) -> String {
        var message = Array("v0:\(timestamp):".utf8)
        message.append(contentsOf: body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.reveal().utf8)))
        return "v0=" + code.map { String(format: "%02x", $0) }.joined()
    }
}
