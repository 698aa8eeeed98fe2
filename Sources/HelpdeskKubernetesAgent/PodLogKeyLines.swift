import HelpdeskCore

/// The lines of a log that say why a container stopped, so a finding can quote one instead of
/// pointing at two hundred.
enum PodLogKeyLines {
    /// Words of failure, matched in lowercase.
    static let words = ["error", "fatal", "panic", "exception", "missing", "not found", "no such", "failed", "denied", "refused",
                        "cannot", "can't", "can’t", "could not", "unable", "invalid"]
    static let maxLines = 5

    /// Masks secret-looking text (a password in a connection string) in the quoted lines; the gate
    /// redacts the whole output again, with the configured secrets too.
    private static let redactor = Redactor()

    /// `key_line`: the last line that reads like an error, else the last non-empty line, `null` for an
    /// empty log; `key_lines`: the last (at most 5) lines that read like errors, in log order.
    static func fields(_ lines: [String]) -> [String: JSONValue] {
        let written = lines.filter { !$0.allSatisfy(\.isWhitespace) }
        let failures = written.filter { line in
            let lowered = line.lowercased()
            return words.contains { lowered.contains($0) }
        }
        let key = failures.last ?? written.last
        return [
            "key_line": key.map { JSONValue.string(shown($0)) } ?? .null,
            "key_lines": .array(failures.suffix(maxLines).map { JSONValue.string(shown($0)) }),
        ]
    }

    static func shown(_ line: String) -> String {
        var text = redactor.redact(line)
        while text.last?.isWhitespace == true { text.removeLast() }
        // Not cut here: a cut before the gate redacts the configured secrets could leave part of one
        // that no longer matches. Findings cut values to 300 after redaction (Template).
        return text
    }
}
