import Foundation
import HelpdeskCore

/// Why a post to `/webhooks/email` could not be read; each maps to a 4xx.
public enum InboundMailPostError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 415: not a raw message and not a form we know.
    case unsupportedMediaType(String)
    /// 400: a form that does not decode.
    case malformedForm(String)
    /// 400: a form without the raw message field.
    case noMessage

    public var description: String {
        switch self {
        case .unsupportedMediaType(let type):
            "unsupported content type \"\(AuditField.cap(type, bytes: 100))\": send message/rfc822, or a form with body-mime (Mailgun) or email (SendGrid raw)"
        case .malformedForm(let why): "the form does not decode: \(why)"
        case .noMessage: "the form has no raw message (body-mime for Mailgun, email for SendGrid with \"POST the raw, full MIME message\")"
        }
    }
}

/// One post to `/webhooks/email`, decoded by its content type: a raw `message/rfc822` body, Mailgun's
/// form (`body-mime`, `recipient` and the signature fields), or SendGrid Inbound Parse's raw form
/// (`email`, `to`). Pure and total: any bytes give a value or an ``InboundMailPostError``.
public enum InboundMailPost: Sendable, Equatable {
    case raw(mime: String)
    case mailgun(mime: String, recipient: String?, signature: MailgunSignature.Fields?)
    case sendGrid(mime: String, recipient: String?)

    /// The message as received, for ``InboundMail``.
    public var mime: String {
        switch self {
        case .raw(let mime), .mailgun(let mime, _, _), .sendGrid(let mime, _): mime
        }
    }

    /// The envelope recipient the service reported, when it did.
    public var envelopeRecipient: String? {
        switch self {
        case .raw: nil
        case .mailgun(_, let recipient, _), .sendGrid(_, let recipient): recipient
        }
    }

    /// Mailgun's `timestamp`, `token` and `signature`, when all three were sent.
    public var mailgunFields: MailgunSignature.Fields? {
        if case .mailgun(_, _, let signature) = self { return signature }
        return nil
    }

    public static func decode(contentType: String, body: [UInt8]) throws(InboundMailPostError) -> InboundMailPost {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch mediaType {
        case "message/rfc822", "text/plain":
            return .raw(mime: String(decoding: body, as: UTF8.self))
        case "application/x-www-form-urlencoded":
            let fields: [String: String]
            do {
                fields = try decodeForm(body)
            } catch {
                throw .malformedForm(error.description)
            }
            return try fromForm(Form(fields))
        case "multipart/form-data":
            guard let boundary = boundary(in: contentType) else { throw .malformedForm("the content type has no usable boundary") }
            return try fromForm(Form(try formData(body, boundary: boundary)))
        default:
            throw .unsupportedMediaType(mediaType)
        }
    }

    /// The fields either service sends; everything else in the form is ignored.
    struct Form {
        var bodyMIME: String?
        var recipient: String?
        var timestamp: String?
        var token: String?
        var signature: String?
        var email: String?
        var to: String?

        init(_ fields: [String: String]) {
            bodyMIME = fields["body-mime"]
            recipient = fields["recipient"]
            timestamp = fields["timestamp"]
            token = fields["token"]
            signature = fields["signature"]
            email = fields["email"]
            to = fields["to"]
        }
    }

    private static func fromForm(_ form: Form) throws(InboundMailPostError) -> InboundMailPost {
        if let mime = form.bodyMIME {
            let fields = form.timestamp.flatMap { timestamp in
                form.token.flatMap { token in form.signature.map { MailgunSignature.Fields(timestamp: timestamp, token: token, signature: $0) } }
            }
            return .mailgun(mime: mime, recipient: form.recipient, signature: fields)
        }
        if let mime = form.email { return .sendGrid(mime: mime, recipient: form.to) }
        throw .noMessage
    }

    /// The `boundary` parameter as sent (it is case-sensitive), unquoted; 1 to 200 characters.
    /// The text fields of a multipart/form-data body (RFC 7578), split by the same bounded splitter as
    /// MIME parts: each part names its field in `Content-Disposition: form-data; name="…"`. A repeated
    /// field keeps its first value; file parts are read like any other field.
    static func formData(_ body: [UInt8], boundary: String) throws(InboundMailPostError) -> [String: String] {
        let limits = InboundMail.Limits()
        let text = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        let parts = InboundMail.bodyParts(text[...], boundary: boundary, limit: limits.maxParts + 1)
        guard !parts.isEmpty else { throw .malformedForm("not multipart/form-data with the boundary given") }
        guard parts.count <= limits.maxParts else { throw .malformedForm("more than \(limits.maxParts) parts") }
        var fields: [String: String] = [:]
        for part in parts {
            let (head, value) = InboundMail.split(part)
            let headers: [(name: String, value: String)]
            do {
                headers = try InboundMail.parseHeaders(head, limits: limits)
            } catch {
                throw .malformedForm(error.description)
            }
            guard let disposition = headers.first(where: { $0.name.lowercased() == "content-disposition" })?.value,
                  disposition.lowercased().hasPrefix("form-data"), let name = InboundMail.parameter("name", in: disposition)
            else { throw .malformedForm("a part has no Content-Disposition: form-data; name=…") }
            if fields[name] == nil { fields[name] = String(value) }
        }
        return fields
    }

    static func boundary(in contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return (1...200).contains(value.utf8.count) ? value : nil
        }
        return nil
    }
}
