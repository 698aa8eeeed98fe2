/// Names as secbot's summaries show them. Summaries are one line of ids, names and counts; a name an
/// attacker may have chosen (a principal, a target, an argument written straight into the store) is
/// shown only when it looks like a name, never echoed as text that could carry a payload or a secret.
enum SecbotText {
    static let maxName = 80

    /// `name` when it is a plain name of at most ``maxName`` characters, else a placeholder.
    static func name(_ name: String) -> String {
        guard !name.isEmpty, name.count <= maxName, SecbotPatterns.isPlain(name) else { return "(a name not shown)" }
        return name
    }

    /// `text` on one line, cut to `limit` characters.
    static func line(_ text: String, limit: Int = 300) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }
}
