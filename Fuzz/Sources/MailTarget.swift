import Foundation
import HelpdeskCore
import HelpdeskMail

/// `/webhooks/email`: the post (raw rfc822, Mailgun's form, SendGrid's multipart) decoded by its
/// content type, the credentials header, then the message itself and its Authentication-Results.
enum MailTarget {
    static let mailgunKey = Secret("fuzz-mailgun-key")

    /// Layout: Content-Type line, Authorization line, body.
    static func mime(_ bytes: [UInt8]) {
        var input = FuzzInput(bytes)
        let contentType = input.line() ?? ""
        let authorization = input.line()
        let body = Array(input.rest)
        _ = InboundMailCredentials.bearer(authorization: authorization, token: Secret("fuzz-token"))
        _ = InboundMailCredentials.basic(authorization: authorization, username: "mail", password: Secret("fuzz-password"))
        // A body that is no post is still read as a message: `helpdesk mail-ingest` reads what Postfix pipes in.
        guard let post = try? InboundMailPost.decode(contentType: contentType, body: body) else {
            read(mime: String(decoding: body, as: UTF8.self))
            return
        }
        _ = MailgunSignature.verify(post.mailgunFields, key: mailgunKey, now: WebhookTargets.now, window: .seconds(300))
        _ = post.envelopeRecipient.map { AuditField.cap($0) }
        read(mime: post.mime)
    }

    private static func read(mime: String) {
        guard let mail = try? InboundMail(raw: mime) else { return }
        let sender = InboundMail.address(mail.header("From") ?? "")
        _ = SenderAuthentication.check(mail, senderDomain: SenderAuthentication.domain(of: sender), authservID: "mx.example.org")
        _ = mail.firstReplyLine
        _ = mail.isAutomatic
        _ = AuditField.cap(mail.header("Subject") ?? "")
    }
}
