import CCurlSMTP
import Dispatch
import Foundation
import HelpdeskConfig
import HelpdeskCore

/// Why a message was not sent: the SMTP reply when there was one.
public struct MailError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var smtpReply: Int
    public var message: String
    /// Connection problems and 4xx replies are worth retrying; 5xx replies, a server without the
    /// TLS we require (CURLE_USE_SSL_FAILED) and refused logins (CURLE_LOGIN_DENIED) are not.
    public var retryable: Bool {
        if code == 64 || code == 67 { return false }
        return smtpReply == 0 || (400..<500).contains(smtpReply)
    }
    public var description: String {
        if code == 64 { return "the SMTP server does not offer STARTTLS, which smtp:// requires (smtp.allow_plaintext: true sends without TLS)" }
        return smtpReply == 0 || smtpReply < 400 ? message : "SMTP \(smtpReply): \(message)"
    }
}

/// Sends mail through libcurl: `smtp://` with STARTTLS (required unless smtp.allow_plaintext),
/// or `smtps://`; AUTH with the configured user and password; connect and total timeouts.
public struct SMTPMailer: Sendable {
    let settings: SMTPSettings

    public init(settings: SMTPSettings) {
        self.settings = settings
    }

    public func send(_ message: MailMessage, envelopeFrom: String) async throws {
        guard let url = settings.url else { throw MailError(code: -1, smtpReply: 0, message: "smtp.url is not configured") }
        let text = message.rendered()
        let settings = settings
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            // libcurl blocks: keep it off the cooperative thread pool.
            DispatchQueue.global(qos: .utility).async {
                var responseCode = 0
                var errorBuffer = [CChar](repeating: 0, count: 512)
                let recipients = message.to.map { Self.address($0) }
                let cRecipients = recipients.map { strdup($0) }
                defer { cRecipients.forEach { free($0) } }
                let pointers = cRecipients.map { UnsafePointer($0) }
                let result = pointers.withUnsafeBufferPointer { list in
                    text.withCString { body in
                        helpdesk_smtp_send(url.absoluteString, settings.username ?? "", settings.password?.reveal() ?? "", Self.address(envelopeFrom),
                                           list.baseAddress, list.count, body, strlen(body), settings.allowPlaintext ? 0 : 1, settings.caFile ?? "",
                                           Int(settings.connectTimeout.nanoseconds / 1_000_000), Int(settings.timeout.nanoseconds / 1_000_000),
                                           &responseCode, &errorBuffer)
                    }
                }
                if result == 0 {
                    continuation.resume()
                } else {
                    continuation.resume(throwing: MailError(code: result, smtpReply: responseCode, message: String(cString: errorBuffer)))
                }
            }
        }
    }

    /// `Name <a@b>` → `<a@b>`, as the envelope wants.
    static func address(_ text: String) -> String {
        if let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close { return String(text[open...close]) }
        return "<\(text.trimmingCharacters(in: .whitespaces))>"
    }
}
