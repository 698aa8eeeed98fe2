import Foundation
import HelpdeskCore
import HelpdeskMail
import Hummingbird
import Logging
import MultipartKit

/// `POST /webhooks/email`: an approval reply as raw MIME (`message/rfc822`), or as an inbound-parse
/// service posts it in a form (Mailgun's urlencoded `body-mime` and `recipient`, SendGrid's
/// multipart `email` with "POST the raw, full MIME message").
/// 200 when it decided; 406 (which tells Mailgun not to retry) when it was refused, with why.
struct InboundMailRoutes {
    let processor: MailReplyProcessor?

    func register(on router: Router<AppRequestContext>) {
        router.post("/webhooks/email") { request, context in try await receive(request, context) }
    }

    private func receive(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let processor else {
            throw APIError(status: .serviceUnavailable, code: "email_replies_off",
                           message: "approval replies by email are off: set smtp.reply_domain and approvals.link_key")
        }
        var request = request
        let text = String(buffer: try await request.collectBody(upTo: context.maxUploadSize))
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        var raw = text
        var recipient: String?
        if contentType.hasPrefix("application/x-www-form-urlencoded") {
            let form = parseForm(text)
            guard let mime = form["body-mime"] ?? form["email"] else {
                throw APIError(status: .badRequest, code: "bad_request", message: "the form has no raw message (body-mime or email)")
            }
            raw = mime
            recipient = form["recipient"]
        } else if contentType.hasPrefix("multipart/form-data") {
            // SendGrid Inbound Parse with "POST the raw, full MIME message": the field `email`.
            struct SendGridRaw: Decodable {
                var email: String
                var to: String?
            }
            // The boundary is case-sensitive: read it from the header as sent.
            guard let boundary = (request.headers[.contentType] ?? "").split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) })
                    .first(where: { $0.hasPrefix("boundary=") })?.dropFirst("boundary=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")),
                  let form = try? FormDataDecoder().decode(SendGridRaw.self, from: text, boundary: boundary) else {
                throw APIError(status: .badRequest, code: "bad_request", message: "the multipart form has no raw message (email)")
            }
            raw = form.email
            recipient = form.to
        } else if !(contentType.hasPrefix("message/rfc822") || contentType.hasPrefix("text/plain")) {
            throw APIError(status: .unsupportedMediaType, code: "unsupported_media_type",
                           message: "send message/rfc822, or a form with body-mime (Mailgun) or email (SendGrid raw)")
        }
        switch await processor.process(raw: raw, envelopeRecipient: recipient) {
        case .decided(let message):
            context.logger.info("approval decided by email reply", metadata: ["result": "\(message)"])
            return jsonResponse(status: .ok, ["result": "decided", "message": message])
        case .rejected(let why):
            context.logger.notice("email reply refused", metadata: ["reason": "\(why)"])
            return jsonResponse(status: .notAcceptable, ["result": "rejected", "message": why])
        }
    }
}
