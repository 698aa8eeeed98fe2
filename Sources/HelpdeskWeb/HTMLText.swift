import HelpdeskCore

/// Escaping for HTML text and attribute values, and the decoding of the three entities Slack's
/// escaping (`Mrkdwn.escaped`) writes. Both work scalar by scalar: a combining mark after `<` makes
/// one `Character` of the two, which a per-character comparison would let through.
public enum HTMLText {
    /// `&`, `<`, `>`, `"` and `'` as entities, every other scalar as it is: safe in text and in a
    /// quoted attribute value (``HTMLEscaping``, which the HTML templates' `{{…}}` use too).
    public static func escaped(_ text: String) -> String {
        HTMLEscaping.escaped(text)
    }

    static func escaped(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        HTMLEscaping.escaped(scalars)
    }

    /// Slack's `&amp;`, `&lt;` and `&gt;` back to `&`, `<` and `>`, in one pass (so `&amp;lt;` is the
    /// text `&lt;`, not `<`). Other entities stay as they are: Slack writes no others.
    public static func slackDecoded(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        out.append(contentsOf: slackDecoded(Array(text.unicodeScalars)[...]))
        return String(out)
    }

    static func slackDecoded(_ scalars: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        guard scalars.contains("&") else { return Array(scalars) }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        var index = scalars.startIndex
        while index < scalars.endIndex {
            if scalars[index] == "&", let (decoded, length) = entity(scalars[index...]) {
                out.append(decoded)
                index += length
            } else {
                out.append(scalars[index])
                index += 1
            }
        }
        return out
    }

    /// Escaped for HTML after Slack's entities are decoded: text as the person reading Slack sees it.
    static func shown(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        escaped(slackDecoded(scalars)[...])
    }

    private static let entities: [(name: [Unicode.Scalar], value: Unicode.Scalar)] = [
        (Array("&amp;".unicodeScalars), "&"), (Array("&lt;".unicodeScalars), "<"), (Array("&gt;".unicodeScalars), ">"),
    ]

    private static func entity(_ scalars: ArraySlice<Unicode.Scalar>) -> (Unicode.Scalar, Int)? {
        for entity in entities where scalars.starts(with: entity.name) {
            return (entity.value, entity.name.count)
        }
        return nil
    }
}
