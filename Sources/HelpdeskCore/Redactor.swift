import Foundation
import Synchronization

/// Removes secrets from text before it reaches a log line.
///
/// Two layers: the exact values of every secret the configuration loaded (registered at start),
/// and patterns for secrets that were never configured here (a token pasted into a slash command,
/// a password inside a connection string that came from an inventory or an error message).
public final class Redactor: Sendable {
    public static let mask = "<redacted>"

    private let knownSecrets = Mutex<[String]>([])

    public init() {}

    /// Registers secret values so any later occurrence is masked. Values shorter than 4 characters
    /// are ignored: masking every "a" in every log line would hide more than it protects.
    public func register(_ secrets: [Secret]) {
        let values = secrets.map { $0.reveal() }.filter { $0.count >= 4 }
        guard !values.isEmpty else { return }
        knownSecrets.withLock { known in
            known.append(contentsOf: values)
            // Longest first, so a secret that contains another is masked whole.
            known = Array(Set(known)).sorted { $0.count > $1.count }
        }
    }

    /// Returns `text` with every known secret and every secret-looking pattern masked.
    public func redact(_ text: String) -> String {
        Self.redact(text, secrets: knownSecrets.withLock { $0 })
    }

    /// Returns `value` with every string in it redacted as text is, at any depth, and keys kept.
    /// A string under a key that names a secret (`password`, `token`, `api_key`, …) is masked
    /// whole, since its value alone (`hunter2`) looks like nothing. Meant for every tool output
    /// before it leaves: bundles, Slack uploads, model requests.
    public func redact(_ value: JSONValue) -> JSONValue {
        let secrets = knownSecrets.withLock { $0 }
        return Self.redact(value, secrets: secrets)
    }

    private static func redact(_ value: JSONValue, secrets: [String]) -> JSONValue {
        switch value {
        case .string(let text): .string(redact(text, secrets: secrets))
        case .array(let items): .array(items.map { redact($0, secrets: secrets) })
        case .object(let fields):
            .object(Dictionary(uniqueKeysWithValues: fields.map { key, field in
                if case .string(let text) = field, !text.isEmpty, namesSecret(key) { return (key, .string(mask)) }
                return (key, redact(field, secrets: secrets))
            }))
        case .null, .bool, .number: value
        }
    }

    /// `password`, `db_password`, `apiKey`, `X-Auth-Token`; not `secretName` or `token_count`-style
    /// names of things that are not the secret itself.
    static func namesSecret(_ key: String) -> Bool {
        let lowered = key.lowercased()
        guard secretKeyWords.contains(where: lowered.contains) else { return false }
        return !nonSecretKeySuffixes.contains(where: lowered.hasSuffix)
    }

    private static let secretKeyWords = ["password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "api-key", "credential"]
    private static let nonSecretKeySuffixes = ["name", "ref", "file", "path", "count", "_at", "type", "_id"]

    private static func redact(_ text: String, secrets: [String]) -> String {
        var result = text
        for secret in secrets where occurs(secret, in: result) {
            // Literal: by characters, a secret followed by a combining mark would not match.
            result = result.replacingOccurrences(of: secret, with: Self.mask, options: .literal)
        }
        guard Self.mightHoldSecret(result) else { return result }
        for rule in Self.rules {
            let range = NSRange(result.startIndex..., in: result)
            result = rule.regex.stringByReplacingMatches(in: result, range: range, withTemplate: rule.template)
        }
        return result
    }

    // Cheap pre-check so ordinary log lines skip the regular expressions: one of these, in any
    // ASCII case, for every rule below (the rules that ignore case would miss `BEARER …` otherwise).
    private static let triggers: [[UInt8]] = ["xox", "xapp-", "sk-", "://", "assw", "pwd", "ecret", "oken", "earer", "asic", "key"]
        .map { Array($0.utf8) }

    private static func mightHoldSecret(_ text: String) -> Bool {
        var lowered = Array(text.utf8)
        for index in lowered.indices where lowered[index] >= UInt8(ascii: "A") && lowered[index] <= UInt8(ascii: "Z") {
            lowered[index] |= 0x20
        }
        return lowered.withUnsafeBytes { haystack in
            triggers.contains { trigger in
                trigger.withUnsafeBytes { needle in occurs(needle, in: haystack) }
            }
        }
    }

    /// A byte search: Foundation's `contains` goes through `NSString` and was most of the time a
    /// slash command's redaction took, and this runs on every audited command.
    private static func occurs(_ needle: String, in text: String) -> Bool {
        var needle = needle, text = text
        return text.withUTF8 { haystack in
            needle.withUTF8 { needle in occurs(UnsafeRawBufferPointer(needle), in: UnsafeRawBufferPointer(haystack)) }
        }
    }

    private static func occurs(_ needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer) -> Bool {
        guard let needleStart = needle.baseAddress else { return true }
        guard let haystackStart = haystack.baseAddress, needle.count <= haystack.count else { return false }
        let lastStart = haystack.count - needle.count
        var offset = 0
        while offset <= lastStart {
            // memchr finds the next candidate first byte; memcmp checks the rest.
            guard let found = memchr(haystackStart + offset, Int32(needle[0]), lastStart - offset + 1) else { return false }
            let candidate = UnsafeRawPointer(found)
            if memcmp(candidate, needleStart, needle.count) == 0 { return true }
            offset = candidate - haystackStart + 1
        }
        return false
    }

    private struct Rule: @unchecked Sendable {  // NSRegularExpression is immutable once built.
        let regex: NSRegularExpression
        let template: String
        init(_ pattern: String, _ template: String) {
            // The patterns are constants of this file; a typo is a programming error caught by tests.
            self.regex = try! NSRegularExpression(pattern: pattern, options: [])
            self.template = template
        }
    }

    /// A key prefix starts a token: at the start, after a non-alphanumeric byte, or after a
    /// percent-escape (`%3Dsk-…`). Without it `helpdesk-20261204T…` lost its `sk-2026…` tail.
    private static let tokenStart = #"(?:(?<![A-Za-z0-9])|(?<=%[0-9A-Fa-f]{2}))"#

    private static let rules: [Rule] = [
        // Slack tokens: bot, user, app-level, refresh, config.
        Rule(tokenStart + #"xox[abposre]-[A-Za-z0-9-]+"#, mask),
        Rule(tokenStart + #"xapp-[A-Za-z0-9-]+"#, mask),
        // Anthropic and OpenAI style API keys.
        Rule(tokenStart + #"sk-(?:ant-)?[A-Za-z0-9_-]{16,}"#, mask),
        // user:password@ in URLs (postgres://, smtp://, https://).
        Rule(#"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]+):[^@\s]+@"#, "$1:\(mask)@"),
        // Authorization header values.
        Rule(#"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"#, "$1 \(mask)"),
        // SQL's CREATE/ALTER ROLE … PASSWORD 'x', as query text from pg_stat_activity shows it.
        Rule(#"(?i)(\bpassword\s+)'(?:[^']|'')*'"#, "$1'\(mask)'"),
        // key=value and key: value pairs whose key names a secret (libpq's password=, env dumps, JSON).
        Rule(#"(?i)([A-Za-z_]*(?:password|passwd|pwd|secret|token|api[_-]?key)[A-Za-z_]*"?\s*[=:]\s*"?)([^\s"&,;}]+)"#, "$1\(mask)"),
    ]
}
