import Foundation

/// Why a message was not read: it is larger or deeper than a reply needs to be.
public enum InboundMailError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooManyHeaders(limit: Int)
    case headerTooLong(limit: Int)
    case tooDeep(limit: Int)
    case tooManyParts(limit: Int)

    public var description: String {
        switch self {
        case .tooManyHeaders(let limit): "the message has more than \(limit) header fields"
        case .headerTooLong(let limit): "a header field of the message is longer than \(limit) bytes"
        case .tooDeep(let limit): "the message nests multipart parts more than \(limit) deep"
        case .tooManyParts(let limit): "the message has more than \(limit) MIME parts"
        }
    }
}

/// Just enough of an RFC 5322 / MIME message to read an approval reply: unfolded headers and the
/// first text/plain part, decoded (base64 or quoted-printable). Parsing is bounded by ``Limits``:
/// the whole structure is walked, so a message beyond a bound is refused wherever its text is.
public struct InboundMail: Sendable {
    public struct Limits: Sendable, Equatable {
        /// multipart inside multipart, at most this deep (the top-level multipart is depth 1).
        public var maxDepth = 5
        /// Parts at every level together.
        public var maxParts = 50
        /// Header fields in one header block (the message's or a part's).
        public var maxHeaders = 500
        /// One unfolded header field, in UTF-8 bytes.
        public var maxHeaderBytes = 32 * 1024

        public init(maxDepth: Int = 5, maxParts: Int = 50, maxHeaders: Int = 500, maxHeaderBytes: Int = 32 * 1024) {
            self.maxDepth = maxDepth
            self.maxParts = maxParts
            self.maxHeaders = maxHeaders
            self.maxHeaderBytes = maxHeaderBytes
        }
    }

    public var headers: [(name: String, value: String)]
    public var body: String

    public init(raw: String, limits: Limits = Limits()) throws(InboundMailError) {
        let normalized = raw.replacingOccurrences(of: "\r\n", with: "\n")
        let (head, rest) = Self.split(normalized)
        headers = try Self.parseHeaders(head, limits: limits)
        var walk = Walk(limits: limits)
        body = try walk.plainText(headers: headers, body: rest, depth: 0) ?? ""
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public func all(_ name: String) -> [String] {
        headers.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    /// Header block and body, split at the first empty line.
    static func split(_ text: Substring) -> (head: Substring, body: Substring) {
        guard let split = text.range(of: "\n\n") else { return (text, "") }
        return (text[..<split.lowerBound], text[split.upperBound...])
    }

    static func split(_ text: String) -> (head: Substring, body: Substring) { split(text[...]) }

    static func parseHeaders(_ text: Substring, limits: Limits) throws(InboundMailError) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let first = line.first, first == " " || first == "\t", !result.isEmpty {
                result[result.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
                guard result[result.count - 1].value.utf8.count <= limits.maxHeaderBytes else { throw .headerTooLong(limit: limits.maxHeaderBytes) }
            } else if let colon = line.firstIndex(of: ":") {
                guard result.count < limits.maxHeaders else { throw .tooManyHeaders(limit: limits.maxHeaders) }
                guard line.utf8.count <= limits.maxHeaderBytes else { throw .headerTooLong(limit: limits.maxHeaderBytes) }
                result.append((String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                               String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
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

    /// One pass over the MIME tree, counting parts and depth as it goes.
    struct Walk {
        let limits: Limits
        var parts = 0

        /// The first text/plain body in the tree, decoded; `nil` when there is none.
        mutating func plainText(headers: [(name: String, value: String)], body: Substring, depth: Int) throws(InboundMailError) -> String? {
            let contentType = headers.first { $0.name.lowercased() == "content-type" }?.value ?? "text/plain"
            let type = contentType.lowercased()
            if type.hasPrefix("multipart/") {
                guard depth < limits.maxDepth else { throw .tooDeep(limit: limits.maxDepth) }
                guard let boundary = InboundMail.parameter("boundary", in: contentType), (1...200).contains(boundary.count) else { return nil }
                var found: String?
                for part in InboundMail.bodyParts(body, boundary: boundary, limit: limits.maxParts - parts + 1) {
                    parts += 1
                    guard parts <= limits.maxParts else { throw .tooManyParts(limit: limits.maxParts) }
                    let (head, partBody) = InboundMail.split(part)
                    let partHeaders = try InboundMail.parseHeaders(head, limits: limits)
                    let text = try plainText(headers: partHeaders, body: partBody, depth: depth + 1)
                    if found == nil { found = text }
                }
                return found
            }
            guard type.hasPrefix("text/plain") || type.isEmpty else { return nil }
            let encoding = headers.first { $0.name.lowercased() == "content-transfer-encoding" }?.value.lowercased() ?? "7bit"
            switch encoding {
            case "base64":
                return Data(base64Encoded: body.filter { !$0.isWhitespace }).map { String(decoding: $0, as: UTF8.self) } ?? ""
            case "quoted-printable":
                return InboundMail.decodeQuotedPrintable(body)
            default:
                return String(body)
            }
        }
    }

    /// The parts between `--boundary` delimiter lines (RFC 2046 §5.1.1): the preamble before the
    /// first delimiter and the epilogue after the closing one are not parts.
    /// At most `limit` parts are split off: the caller refuses beyond its bound anyway.
    static func bodyParts(_ body: Substring, boundary: String, limit: Int) -> [Substring] {
        let delimiter = "\n--" + boundary
        let text = "\n" + body
        var parts: [Substring] = []
        var cursor = text.startIndex
        var partStart: String.Index?
        while parts.count < limit, let found = text.range(of: delimiter, range: cursor..<text.endIndex) {
            // A delimiter line right after another leaves an empty part (its start is past this delimiter).
            if let start = partStart { parts.append(start < found.lowerBound ? text[start..<found.lowerBound] : text[found.lowerBound..<found.lowerBound]) }
            let after = text[found.upperBound...]
            if after.hasPrefix("--") { return parts }  // the closing delimiter
            // The rest of the delimiter line (transport padding) is not part of the part.
            guard let lineEnd = after.firstIndex(of: "\n") else { return parts }
            partStart = text.index(after: lineEnd)
            cursor = lineEnd
        }
        return parts
    }

    static func decodeQuotedPrintable(_ text: some StringProtocol) -> String {
        var bytes: [UInt8] = []
        let source = Array(text.replacingOccurrences(of: "=\n", with: "").utf8)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "="), index + 2 < source.count,
               let high = hexDigit(source[index + 1]), let low = hexDigit(source[index + 2]) {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
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
