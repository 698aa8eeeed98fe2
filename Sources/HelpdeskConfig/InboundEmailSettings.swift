import Crypto
import Foundation
import HelpdeskCore

/// `inbound_email:` — who may post approval replies to `POST /webhooks/email`, and how much MIME
/// structure one message may have.
public struct InboundEmailSettings: Sendable {
    /// How a post proves it comes from your MTA or inbound-parse service. There is no open default:
    /// `none` must be written out.
    public enum Auth: String, Sendable, CaseIterable {
        /// `Authorization: Bearer <bearer_token>` (a raw `message/rfc822` post).
        case bearer
        /// `Authorization: Basic …` (raw posts, or SendGrid's credentials in the webhook URL).
        case basic
        /// Mailgun's webhook signature: the form fields `timestamp`, `token`, `signature`.
        case mailgun
        /// SendGrid's signed webhook (ECDSA P-256 over timestamp + body).
        case sendgrid
        /// Open to anyone; only for a listener no one else can reach.
        case none
    }

    /// `nil` until configured: then the webhook refuses everything.
    public var auth: Auth?
    /// From `HELPDESK_INBOUND_EMAIL_BEARER_TOKEN` or `bearer_token_file`.
    public var bearerToken: Secret?
    public var basicAuthUsername: String?
    /// From `HELPDESK_INBOUND_EMAIL_BASIC_AUTH_PASSWORD` or `basic_auth_password_file`.
    public var basicAuthPassword: Secret?
    /// From `MAILGUN_WEBHOOK_SIGNING_KEY` or `mailgun_signing_key_file`.
    public var mailgunSigningKey: Secret?
    /// SendGrid's verification key as DER (SubjectPublicKeyInfo), checked to be a P-256 key.
    public var sendgridPublicKeyDER: [UInt8]?
    /// Signed posts whose timestamp is further than this from now are refused; Mailgun tokens are
    /// remembered this long.
    public var replayWindow: Duration = .seconds(300)
    /// multipart inside multipart, at most this deep.
    public var maxMIMEDepth = 5
    /// MIME parts in one message, at every level together.
    public var maxMIMEParts = 50

    public init() {}

    /// `replies` is the `smtp:` section when approval replies are configured (`smtp.reply_domain`
    /// and `approvals.link_key`): then `auth` is required.
    init(_ section: ConfigSection, replies: ConfigSection?) {
        auth = section.optionalChoice("auth")
        bearerToken = section.secret("bearer_token", environment: "HELPDESK_INBOUND_EMAIL_BEARER_TOKEN")
        basicAuthUsername = section.optionalString("basic_auth_username")
        basicAuthPassword = section.secret("basic_auth_password", environment: "HELPDESK_INBOUND_EMAIL_BASIC_AUTH_PASSWORD")
        mailgunSigningKey = section.secret("mailgun_signing_key", environment: "MAILGUN_WEBHOOK_SIGNING_KEY")
        sendgridPublicKeyDER = Self.sendgridKey(section)
        replayWindow = section.duration("replay_window", default: replayWindow, range: .seconds(10) ... .seconds(3600))
        maxMIMEDepth = section.int("max_mime_depth", default: maxMIMEDepth, range: 1...20)
        maxMIMEParts = section.int("max_mime_parts", default: maxMIMEParts, range: 1...1000)
        requireCredentials(section, replies: replies)
        section.finish()
    }

    /// With replies on, a method whose credential resolves to nothing would leave the webhook open:
    /// refuse to start. (With replies off the webhook answers 503 whatever this says.)
    private func requireCredentials(_ section: ConfigSection, replies: ConfigSection?) {
        guard let replies else { return }
        let methods = Auth.allCases.map(\.rawValue).joined(separator: ", ")
        guard let auth else {
            let message = "approval replies by email need inbound_email.auth (one of: \(methods)) to authenticate POST /webhooks/email"
            if section.isEmpty { replies.report("reply_domain", message) } else { section.report("auth", message) }
            return
        }
        // An unreadable *_file has been reported already by `secret`; report only what is missing.
        func missing(_ key: String, _ what: String) {
            if section.optionalString(key + "_file") == nil { section.report(key + "_file", "required with auth: \(auth.rawValue): \(what)") }
        }
        switch auth {
        case .bearer where bearerToken == nil:
            missing("bearer_token", "the token, from HELPDESK_INBOUND_EMAIL_BEARER_TOKEN or bearer_token_file")
        case .basic:
            if basicAuthUsername?.isEmpty != false {
                section.report("basic_auth_username", "required with auth: basic")
            }
            if basicAuthPassword == nil {
                missing("basic_auth_password", "the password, from HELPDESK_INBOUND_EMAIL_BASIC_AUTH_PASSWORD or basic_auth_password_file")
            }
        case .mailgun where mailgunSigningKey == nil:
            missing("mailgun_signing_key", "Mailgun's HTTP webhook signing key, from MAILGUN_WEBHOOK_SIGNING_KEY or mailgun_signing_key_file")
        case .sendgrid where sendgridPublicKeyDER == nil:
            if section.optionalString("sendgrid_public_key") == nil {
                missing("sendgrid_public_key", "the verification key SendGrid shows (base64), in sendgrid_public_key or sendgrid_public_key_file")
            }
        default:
            break
        }
    }

    /// `sendgrid_public_key` (base64 DER, as SendGrid shows it) or `sendgrid_public_key_file` (PEM or base64).
    private static func sendgridKey(_ section: ConfigSection) -> [UInt8]? {
        if let text = section.optionalString("sendgrid_public_key") {
            guard let der = parsePublicKey(text) else {
                section.report("sendgrid_public_key", "expected SendGrid's verification key: a base64 P-256 public key (DER)")
                return nil
            }
            return der
        }
        guard let path = section.optionalString("sendgrid_public_key_file") else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            section.report("sendgrid_public_key_file", "cannot read \(path)")
            return nil
        }
        guard let der = parsePublicKey(text) else {
            section.report("sendgrid_public_key_file", "\(path) holds no P-256 public key (PEM, or base64 DER as SendGrid shows it)")
            return nil
        }
        return der
    }

    /// The DER of a P-256 public key given as PEM or as base64 DER; `nil` for anything else.
    public static func parsePublicKey(_ text: String) -> [UInt8]? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("-----BEGIN") {
            return (try? P256.Signing.PublicKey(pemRepresentation: trimmed)).map { Array($0.derRepresentation) }
        }
        guard let data = Data(base64Encoded: trimmed.filter { !$0.isWhitespace }),
              let key = try? P256.Signing.PublicKey(derRepresentation: data) else { return nil }
        return Array(key.derRepresentation)
    }
}
