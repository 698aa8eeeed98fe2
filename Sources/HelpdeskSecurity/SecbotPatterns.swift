import Foundation

/// The signs of SQL and command injection secbot looks for in tool inputs and errors, in one place.
///
/// None of this server's tools takes SQL or a shell command: its inputs are names (databases,
/// namespaces, pods, deployments), label selectors, numbers and a silence's comment. So text that
/// reads as SQL or shell syntax in them was put there to be interpreted somewhere. Plain names
/// (`orders-db`, `checkout-worker-7d9f8-x2x`, `pg-main`, `app=orders,tier!=web`, `42`) never reach
/// the patterns: only text holding a character outside ``plainCharacters``, or `../`, is examined.
public enum SecbotPatterns {
    /// One sign: what it matches (an ICU regular expression, case-insensitive) and why it is one.
    public struct Pattern: Sendable {
        public var expression: String
        public var why: String
    }

    /// Characters of names, selectors and numbers; a text of only these is not examined further.
    static let plainCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/=,@+!-")

    public static let sql: [Pattern] = [
        Pattern(expression: #"['"]\s*;\s*(drop|delete|insert|update|alter|create|truncate|grant|revoke|select|copy|exec|execute|shutdown)\b"#,
                why: "a quote closed and a statement stacked after it (`'; DROP …`)"),
        Pattern(expression: #";\s*(drop\s+(table|database|schema|role|user|function)|truncate\b|delete\s+from|insert\s+into|"#
                    + #"update\s+\S+\s+set\b|alter\s+(table|role|user|system)|grant\s+\S+\s+(on|to)\b|copy\s+\S+\s+(to|from)\b)"#,
                why: "a statement stacked after a semicolon (`; DELETE FROM …`)"),
        Pattern(expression: #"\bunion\s+(all\s+)?select\b"#, why: "UNION SELECT reads another table's rows into the result"),
        Pattern(expression: #"\b(or|and)\s+['"]?(\d+)['"]?\s*=\s*['"]?\2['"]?"#,
                why: "a tautology (`OR 1=1`) that makes a WHERE clause match every row"),
        Pattern(expression: #"'\s*(or|and)\s+'"#, why: "a quote closed early to add a condition (`' OR '`)"),
        Pattern(expression: #"\b(pg_sleep|sleep|benchmark|waitfor\s+delay)\s*\("#,
                why: "a timing probe (`pg_sleep(`) used for blind injection"),
        Pattern(expression: #"'\s*(--|#|/\*)"#, why: "a quote closed and the rest of the statement commented out (`'--`)"),
    ]

    public static let command: [Pattern] = [
        Pattern(expression: #"\$\(|\$\{"#, why: "shell command or variable substitution (`$(…)`, `${…}`)"),
        Pattern(expression: #"`"#, why: "backticks: shell command substitution"),
        Pattern(expression: #";\s*(rm|curl|wget|sh|bash|zsh|nc|ncat|chmod|chown|cat|python3?|perl|kill|dd|mkfifo)\b"#,
                why: "a command chained after `;` (`; rm …`)"),
        Pattern(expression: #"\|\s*(sh|bash|zsh|nc|ncat|python3?|perl|base64)\b"#, why: "output piped into a shell or interpreter (`| sh`)"),
        Pattern(expression: #"&&\s|\|\|\s"#, why: "a command chained with `&&` or `||`"),
        Pattern(expression: #"\.\./"#, why: "path traversal (`../`)"),
    ]

    /// Arguments written as free text by people (a silence's comment): a line break there is normal.
    static let freeTextArguments: Set<String> = ["comment", "reason", "purpose", "message", "text", "description"]

    /// The first SQL sign in `text`, or `nil`.
    public static func sqlSign(in text: String) -> Pattern? {
        firstMatch(sql, in: text)
    }

    /// The first command sign in `text`, or `nil`. A line break counts in a name (`argument` is not
    /// free text): a name never holds one, and a shell reads it as the end of a command.
    public static func commandSign(in text: String, argument: String? = nil) -> Pattern? {
        if let argument, !freeTextArguments.contains(argument), text.contains(where: \.isNewline) {
            return Pattern(expression: #"\n"#, why: "a line break in a name, which a shell reads as the end of a command")
        }
        return firstMatch(command, in: text)
    }

    private static func firstMatch(_ patterns: [Pattern], in text: String) -> Pattern? {
        guard !isPlain(text) else { return nil }
        return patterns.first { text.range(of: $0.expression, options: [.regularExpression, .caseInsensitive]) != nil }
    }

    /// Whether `text` is only name characters (and not a path climbing out of its folder).
    static func isPlain(_ text: String) -> Bool {
        text.allSatisfy(plainCharacters.contains) && !text.contains("../")
    }
}
