import Foundation

/// Just enough of an RFC 5322 / MIME message to read an approval reply: unfolded headers and the
/// first text/plain part, decoded (base64 or quoted-printable).
public struct InboundMail: Sendable {
    public var headers: [(name: String, value: String)]
    public var body: String

    public init(raw: String) {
        let normalized = raw.replacingOccurrences(of: "\r\n", with: "\n")
        let split = normalized.range(of: "\n\n")
        let head = split.map { String(normalized[..<$0.lowerBound]) } ?? normalized
        let rest = split.map { String(normalized[$0.upperBound...]) } ?? ""
        headers = Self.parseHeaders(head)
        body = Self.plainText(headers: headers, body: rest)
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public func all(_ name: String) -> [String] {
        headers.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    static func parseHeaders(_ text: String) -> [(name: String, value: String)] {
        var result: [(String, String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let first = line.first, first == " " || first == "\t", !result.isEmpty {
                result[result.count - 1].1 += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                result.append((String(line[..<colon]).trimmingCharacters(in: .whitespaces), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
        }
        return result
    }

    static func parameter(_ name: String, in value: String) -> String? {
        for part in value.split(separator: ";").dropFirst() {
            let pieces = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pieces.count == 2, pieces[0].lowercased() == name { return pieces[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }

    static func plainText(headers: [(name: String, value: String)], body: String) -> String {
        let contentType = headers.first { $0.name.lowercased() == "content-type" }?.value ?? "text/plain"
        let encoding = headers.first { $0.name.lowercased() == "content-transfer-encoding" }?.value.lowercased() ?? "7bit"
        if contentType.lowercased().hasPrefix("multipart/"), let boundary = parameter("boundary", in: contentType) {
            for part in body.components(separatedBy: "--\(boundary)").dropFirst() where !part.hasPrefix("--") {
                let trimmed = part.hasPrefix("\n") ? String(part.dropFirst()) : part
                let split = trimmed.range(of: "\n\n")
                let partHeaders = parseHeaders(split.map { String(trimmed[..<$0.lowerBound]) } ?? "")
                let partBody = split.map { String(trimmed[$0.upperBound...]) } ?? ""
                let type = partHeaders.first { $0.name.lowercased() == "content-type" }?.value.lowercased() ?? "text/plain"
                if type.hasPrefix("text/plain") || type.hasPrefix("multipart/") {
                    return plainText(headers: partHeaders, body: partBody)
                }
            }
            return ""
        }
        switch encoding {
        case "base64":
            return Data(base64Encoded: body.filter { !$0.isWhitespace }).map { String(decoding: $0, as: UTF8.self) } ?? ""
        case "quoted-printable":
            return decodeQuotedPrintable(body)
        default:
            return body
        }
    }

    static func decodeQuotedPrintable(_ text: String) -> String {
        var bytes: [UInt8] = []
        let source = Array(text.replacingOccurrences(of: "=\n", with: "").utf8)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "="), index + 2 < source.count,
               let value = UInt8(String(decoding: source[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The email address inside `Name <a@b>` (lowercased).
    public static func address(_ value: String) -> String {
        if let open = value.lastIndex(of: "<"), let close = value.lastIndex(of: ">"), open < close {
            return String(value[value.index(after: open)..<close]).lowercased()
        }
        return value.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// The reply's first line that is not quoted, blank, or a client's "On … wrote:" preamble.
    public var firstReplyLine: String? {
        for line in body.split(separator: "\n", omittingEmptySubsequences: true) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix(">") { continue }
            if trimmed.hasPrefix("On "), trimmed.hasSuffix("wrote:") { return nil }
            return trimmed
        }
        return nil
    }

    /// Out-of-office and other machine-written mail (RFC 3834 and common practice).
    public var isAutomatic: Bool {
        if let submitted = header("Auto-Submitted")?.lowercased(), submitted != "no" { return true }
        if let precedence = header("Precedence")?.lowercased(), ["bulk", "list", "junk", "auto_reply"].contains(precedence) { return true }
        if header("X-Autoreply") != nil || header("X-Autorespond") != nil { return true }
        if let returnPath = header("Return-Path"), returnPath.trimmingCharacters(in: .whitespaces) == "<>" { return true }
        return false
    }
}
