import Foundation
import HelpdeskCore

/// An email: RFC 5322 headers and a multipart/alternative body (plain text and HTML), CRLF lines.
public struct MailMessage: Sendable, Equatable, Codable {
    public var from: String
    public var to: [String]
    public var replyTo: String?
    public var subject: String
    public var text: String
    public var html: String?
    public var messageID: String
    public var date: Date

    public init(from: String, to: [String], replyTo: String? = nil, subject: String, text: String, html: String? = nil,
                messageID: String, date: Date = Date()) {
        self.from = from
        self.to = to
        self.replyTo = replyTo
        self.subject = subject
        self.text = text
        self.html = html
        self.messageID = messageID
        self.date = date
    }

    /// The message as sent: headers, a blank line, the MIME body; every line ends in CRLF.
    public func rendered() -> String {
        var headers = [
            "Date: \(Self.rfc5322Date(date))",
            "From: \(from)",
            "To: \(to.joined(separator: ", "))",
            "Subject: \(Self.encodedHeader(subject))",
            "Message-ID: <\(messageID)>",
            "MIME-Version: 1.0",
            "Auto-Submitted: auto-generated",
        ]
        if let replyTo { headers.append("Reply-To: \(replyTo)") }
        let textPart = Self.base64Lines(text)
        guard let html else {
            headers += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64"]
            return (headers + ["", textPart]).joined(separator: "\r\n") + "\r\n"
        }
        let boundary = "helpdesk-" + randomToken(length: 24)
        headers.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
        let body = [
            "--\(boundary)", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "", textPart,
            "--\(boundary)", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64", "", Self.base64Lines(html),
            "--\(boundary)--",
        ]
        return (headers + [""] + body).joined(separator: "\r\n") + "\r\n"
    }

    /// Header text as RFC 2047 encoded-words when it is not plain ASCII.
    static func encodedHeader(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 32 && $0.value != 127 }
        let clean = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        return plain ? clean : "=?UTF-8?B?\(Data(clean.utf8).base64EncodedString())?="
    }

    static func base64Lines(_ text: String) -> String {
        let encoded = Data(text.utf8).base64EncodedString()
        return stride(from: 0, to: encoded.count, by: 76).map { offset -> String in
            let start = encoded.index(encoded.startIndex, offsetBy: offset)
            let end = encoded.index(start, offsetBy: min(76, encoded.count - offset))
            return String(encoded[start..<end])
        }.joined(separator: "\r\n")
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
