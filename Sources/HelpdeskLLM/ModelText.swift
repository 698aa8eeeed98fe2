import HelpdeskCore

/// Text cut to fit what a model is shown, saying so when it had to cut: a model that reads JSON
/// which simply stops cannot tell a short answer from a long one cut short.
///
/// ```swift
/// ModelText.cut("abcdef", to: 4)   // "abcd … [cut: 4 of 6 characters shown]"
/// ```
public enum ModelText {
    /// `text`, or its first `limit` characters followed by ``marker(shown:of:)``.
    public static func cut(_ text: String, to limit: Int) -> String {
        let count = text.count
        guard count > limit else { return text }
        let shown = max(limit, 0)
        return String(text.prefix(shown)) + marker(shown: shown, of: count)
    }

    /// ` … [cut: 4000 of 12345 characters shown]`, appended where a text was cut.
    public static func marker(shown: Int, of total: Int) -> String {
        " … [cut: \(shown) of \(total) characters shown]"
    }

    /// `value` as JSON in about `limit` characters. When it is longer and its lists are what makes
    /// it long (a tool's output is mostly an object of lists), the lists lose whole elements from
    /// their end, the longest list first, so what is shown still parses and no element stops
    /// halfway; a note after it says how many of each list are shown. Otherwise, or when that
    /// is not enough, the JSON text is cut at `limit` characters and marked as ``cut(_:to:)`` does.
    public static func json(_ value: JSONValue, limit: Int) -> String {
        let text = value.jsonText
        let count = text.count
        guard count > limit else { return text }
        return elementCut(value, length: count, limit: limit) ?? cut(text, to: limit)
    }

    /// One list of the value being cut: its elements, each one's share of the text, how many are kept.
    private struct Part {
        var key: String?
        var items: [JSONValue]
        var sizes: [Int]
        var kept: Int
        /// The characters of the elements kept.
        var shown: Int

        init(key: String?, items: [JSONValue]) {
            self.key = key
            self.items = items
            // An element's text and the comma that separates it.
            sizes = items.map { $0.jsonText.count + 1 }
            kept = items.count
            shown = sizes.reduce(0, +)
        }

        /// Drops the last element kept; returns the characters that frees.
        mutating func dropLast() -> Int {
            kept -= 1
            shown -= sizes[kept]
            return sizes[kept]
        }

        var note: String { (key.map { "\($0): " } ?? "") + "\(kept) of \(items.count) elements" }
    }

    /// Room kept for the note that follows the JSON.
    private static let noteRoom = 160

    private static func elementCut(_ value: JSONValue, length: Int, limit: Int) -> String? {
        var parts: [Part]
        switch value {
        case .array(let items):
            parts = [Part(key: nil, items: items)]
        case .object(let object):
            parts = object.keys.sorted().compactMap { key -> Part? in
                guard let items = object[key]?.arrayValue else { return nil }
                return Part(key: key, items: items)
            }
        default:
            return nil
        }
        let budget = limit - noteRoom
        guard budget > 0, !parts.isEmpty else { return nil }
        var size = length
        while size > budget {
            // The list showing the most characters gives up its last element.
            let candidates = parts.indices.filter { parts[$0].kept > 0 }
            guard let index = candidates.max(by: { parts[$0].shown < parts[$1].shown }) else { return nil }
            size -= parts[index].dropLast()
        }
        let shown: JSONValue
        switch value {
        case .object(var object):
            for part in parts {
                if let key = part.key { object[key] = .array(Array(part.items.prefix(part.kept))) }
            }
            shown = .object(object)
        default:
            shown = .array(Array(parts[0].items.prefix(parts[0].kept)))
        }
        let text = shown.jsonText
        // The estimate is close, not exact (separators): what still does not fit is cut by characters instead.
        guard text.count <= budget else { return nil }
        let notes = parts.filter { $0.kept < $0.items.count }.map(\.note)
        return text + " … [cut: \(notes.joined(separator: ", ")) shown]"
    }
}
