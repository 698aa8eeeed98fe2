/// Escaping for HTML text and quoted attribute values, scalar by scalar: a combining mark after `<`
/// (or a prepended mark before it) makes one `Character` of the two, which a per-character
/// comparison — swift-mustache's own HTML escaping — lets through unescaped.
public enum HTMLEscaping {
    /// `&`, `<`, `>`, `"` and `'` as entities, every other scalar as it is.
    ///
    ///     HTMLEscaping.escaped("<a href=\"x\">")   // "&lt;a href=&quot;x&quot;&gt;"
    public static func escaped(_ text: String) -> String {
        escaped(text.unicodeScalars)
    }

    public static func escaped<Scalars: Sequence<Unicode.Scalar>>(_ scalars: Scalars) -> String {
        var out = String.UnicodeScalarView()
        for scalar in scalars {
            switch scalar {
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
            case "'": out.append(contentsOf: "&#39;".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }
}
