import HelpdeskCore
import Mustache

/// Slack mrkdwn whose interpolated values are escaped: alert labels, what people type and tool
/// output cannot mention (`<!channel>`, `<@U1>`) or link (`<https://…|here>`) in the bot's name.
/// Literals are the bot's own formatting (`*bold*`, `` `code` ``) and are kept.
///
///     let text: Mrkdwn = ":mute: \(user) silenced *\(alertname)*"   // alertname "<!channel>" shows as typed
///
/// For messages that are not rendered from a template (thread notes); templates use the `SLACK`
/// content type, which escapes the same way.
public struct Mrkdwn: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The escaped text, as Slack is sent it.
    public private(set) var text: String

    public init(stringLiteral value: String) {
        text = value
    }

    public init(stringInterpolation: StringInterpolation) {
        text = stringInterpolation.text
    }

    public var description: String { text }

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + 16 * interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            text += literal
        }

        /// Escaped: text from outside.
        public mutating func appendInterpolation(_ value: some CustomStringConvertible) {
            text += Mrkdwn.escaped(value.description)
        }

        /// Escaped, cut first so that escaped it is at most `limit` characters.
        public mutating func appendInterpolation(_ value: some CustomStringConvertible, limit: Int) {
            text += Mrkdwn.escaped(Mrkdwn.fitting(value.description, limit))
        }
    }

    /// The message body of a plain-text note (a thread reply), cut to a section's 3,000 characters.
    public var messageBody: JSONValue {
        .object(["text": .string(truncated(SlackRenderer.Limit.sectionText))])
    }

    /// At most `limit` characters, ending in an ellipsis when cut; never cut inside an escape (`&amp;`).
    public func truncated(_ limit: Int) -> String {
        guard text.count > limit else { return text }
        guard limit > 1 else { return limit == 1 ? "…" : "" }
        var kept = text.prefix(limit - 1)
        // An escape is at most five characters: a `&` among the last four kept has lost its `;`.
        if let amp = kept.suffix(4).lastIndex(of: "&"), !kept[amp...].contains(";") {
            kept = kept[..<amp]
        }
        return String(kept) + "…"
    }

    /// Slack's escaping for text that is not markup: `&`, `<` and `>` as entities, every other
    /// character as it is. Scalar by scalar, so a combining mark after `<` does not hide it.
    public static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }) else { return text }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped.append(contentsOf: "&amp;".unicodeScalars)
            case "<": escaped.append(contentsOf: "&lt;".unicodeScalars)
            case ">": escaped.append(contentsOf: "&gt;".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    /// `text` cut so that, once escaped (by ``escaped(_:)`` or the `SLACK` content type), it is at most
    /// `limit` characters, ending in an ellipsis when it had to cut: Block Kit counts what it is sent.
    public static func fitting(_ text: String, _ limit: Int) -> String {
        guard limit > 0 else { return "" }
        // Escaping at most quintuples a code point, and a character has at least one: text far over
        // the limit is cut first, so a huge annotation costs no more than a short one.
        let bound = 5 * limit + 8
        let text = text.utf8.count > bound ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(bound))) + "…" : text
        if escaped(text).count <= limit { return text }
        var kept = "", used = 1  // the ellipsis
        for character in text {
            let cost = escaped(String(character)).count
            if used + cost > limit { break }
            kept.append(character)
            used += cost
        }
        return kept + "…"
    }
}

/// The `SLACK` content type of the Slack templates (`{{% CONTENT_TYPE: SLACK }}`): every `{{value}}` is
/// mrkdwn-escaped (``Mrkdwn/escaped(_:)``), then escaped for the inside of a JSON string. Button values
/// and other fields Slack hands back as they were switch to `JSON` around the value.
struct SlackContentType: MustacheContentType {
    func escapeText(_ text: String) -> String {
        JSONStringContentType().escapeText(Mrkdwn.escaped(text))
    }
}
