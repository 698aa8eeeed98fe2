import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskMail
import HTTPTypes
import Hummingbird
import Logging

/// `POST /webhooks/email`: an approval reply as raw MIME (`message/rfc822`), or as an inbound-parse
/// service posts it in a form (Mailgun's `body-mime`, SendGrid's `email` with "POST the raw, full
/// MIME message"). Verify the configured credentials (401) → decode (400, 415) → process.
/// 200 when it decided; 406 (which tells Mailgun not to retry) when it was refused, with why.
struct InboundMailRoutes {
    let processor: MailReplyProcessor?
    /// One gate for the router's lifetime: it holds the Mailgun tokens already seen.
    let gate: InboundMailGate?

    init(processor: MailReplyProcessor?) {
        self.processor = processor
        self.gate = processor.map { InboundMailGate(settings: $0.inbound) }
    }

    func register(on router: Router<AppRequestContext>) {
        router.post("/webhooks/email") { request, context in try await receive(request, context) }
    }

    private func receive(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let processor, let gate else {
            throw APIError(status: .serviceUnavailable, code: "email_replies_off",
                           message: "approval replies by email are off: set smtp.reply_domain and approvals.link_key")
        }
        var request = request
        let body = Array(buffer: try await request.collectBody(upTo: context.maxUploadSize))
        let signatureHeader = HTTPField.Name(SendGridSignature.signatureHeader)
        let timestampHeader = HTTPField.Name(SendGridSignature.timestampHeader)
        let inbound = InboundMailRequest(
            contentType: request.headers[.contentType] ?? "", authorization: request.headers[.authorization],
            sendGridSignature: signatureHeader.flatMap { request.headers[$0] }, sendGridTimestamp: timestampHeader.flatMap { request.headers[$0] },
            body: body)
        let post: InboundMailPost
        do throws(InboundMailRefusal) {
            post = try gate.admit(inbound, now: Date())
        } catch {
            switch error {
            case .unauthenticated(let reason):
                context.logger.notice("email webhook refused: bad credentials", metadata: ["reason": "\(reason)", "auth": "\(gate.settings.auth?.rawValue ?? "unset")"])
                var headers = HTTPFields()
                switch gate.settings.auth {
                case .bearer?: headers[.wwwAuthenticate] = "Bearer"
                case .basic?: headers[.wwwAuthenticate] = "Basic realm=\"helpdesk\""
                default: break
                }
                throw APIError(status: .unauthorized, code: "unauthenticated",
                               message: "the credentials for /webhooks/email are missing or wrong", headers: headers)
            case .undecodable(let why):
                context.logger.notice("email webhook refused: undecodable", metadata: ["reason": "\(why)"])
                if case .unsupportedMediaType = why {
                    throw APIError(status: .unsupportedMediaType, code: "unsupported_media_type", message: why.description)
                }
                throw APIError(status: .badRequest, code: "bad_request", message: why.description)
            }
        }
        switch await processor.process(raw: post.mime, envelopeRecipient: post.envelopeRecipient) {
        case .decided(let message):
            context.logger.info("approval decided by email reply", metadata: ["result": "\(message)"])
            return jsonResponse(status: .ok, ["result": "decided", "message": message])
        case .rejected(let why):
            context.logger.notice("email reply refused", metadata: ["reason": "\(AuditField.cap(why))"])
            return jsonResponse(status: .notAcceptable, ["result": "rejected", "message": why])
        }
    }
}
