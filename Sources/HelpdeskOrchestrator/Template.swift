import HelpdeskCore

/// The runbooks' text templates: `{path}` is the element's value at that dotted path (`?` when it
/// has none), `{path|fallback}` gives `fallback` when the value is missing, null, empty text or an
/// empty list. Lists of plain values read `a, b`; whole numbers have no decimal point.
enum Template {
    /// A substituted value longer than this is cut: a log line or query text must not swamp a finding.
    static let valueLimit = 300

    /// `template` filled from `item`.
    static func fill(_ template: String, from item: JSONValue) -> String {
        render(template, from: item).text
    }

    /// The filled text, and whether a placeholder without a fallback found no value (and reads `?`):
    /// a follow-up call or a join condition built from such a text would ask about nothing.
    static func render(_ template: String, from item: JSONValue) -> (text: String, missing: Bool) {
        var result = ""
        var missing = false
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            result += rest[..<open]
            let inner = rest[rest.index(after: open)..<close]
            let bar = inner.firstIndex(of: "|")
            let path = String(bar.map { inner[..<$0] } ?? inner)
            let fallback = bar.map { String(inner[inner.index(after: $0)...]) }
            switch item.value(at: path) {
            case nil, .null?:
                if fallback == nil { missing = true }
                result += fallback ?? "?"
            case let value? where isEmpty(value):
                result += fallback ?? ""
            case let value?:
                result += cut(text(of: value))
            }
            rest = rest[rest.index(after: close)...]
        }
        return (result + rest, missing)
    }

    /// Whether `template` has a placeholder `render` fills (a `{` with a `}` after it).
    static func hasPlaceholder(_ template: String) -> Bool {
        guard let open = template.firstIndex(of: "{") else { return false }
        return template[open...].contains("}")
    }

    /// How a value reads in text: a list of plain values comma-joined, anything else as JSON describes it.
    static func text(of value: JSONValue) -> String {
        if case .array(let items) = value, items.allSatisfy(isPlain) {
            return items.map(\.description).joined(separator: ", ")
        }
        return value.description
    }

    private static func isEmpty(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): text.isEmpty
        case .array(let items): items.isEmpty
        default: false
        }
    }

    private static func isPlain(_ value: JSONValue) -> Bool {
        switch value {
        case .array, .object: false
        default: true
        }
    }

    /// Cut by Unicode scalars: one user-perceived character can hold thousands of combining marks.
    private static func cut(_ text: String) -> String {
        text.unicodeScalars.count > valueLimit ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(valueLimit - 1))) + "…" : text
    }
}
