/// Slack mrkdwn, as our Block Kit templates write it, as HTML that shows what Slack would show.
///
/// The templates escape every value for mrkdwn (`&amp;`, `&lt;`, `&gt;`), so a raw `<` is always the
/// bot's own markup (a link) and text from outside arrives as entities. Those are decoded and every
/// piece of text is HTML-escaped again before it is written, so the output never carries a byte of the
/// input unescaped; tags come only from this renderer, each opened and closed by the same call.
///
///     MrkdwnHTML.html("*Approval needed* for `run_sql` &lt;x&gt;\n<https://grafana.example/d|source>")
///     // <strong>Approval needed</strong> for <code>run_sql</code> &lt;x&gt;<br>
///     // <a href="https://grafana.example/d" rel="noopener noreferrer">source</a>
///
/// Handled: `*bold*`, `_italic_`, `~strike~`, `` `code` ``, ```` ```pre``` ````, newlines, links to
/// http, https and mailto addresses (any other scheme shows as text), mentions (`<@U1>`, `<#C1|name>`,
/// `<!here>`) as text, and the emoji shortcodes of ``EmojiShortcodes``. A marker without its pair
/// stays as typed.
public enum MrkdwnHTML {
    /// `mrkdwn` as HTML for the inside of a block element (`{{{…}}}` in a template).
    public static func html(_ mrkdwn: String) -> String {
        let scalars = Array(mrkdwn.unicodeScalars)
        var out = ""
        var index = 0
        // Code blocks first: what is inside them is shown as it is, markers and all.
        while let open = find(fence, in: scalars, from: index), let close = find(fence, in: scalars, from: open + 3) {
            out += lines(scalars[index..<open])
            var body = scalars[(open + 3)..<close]
            if body.first == "\n" { body = body.dropFirst() }
            if body.last == "\n" { body = body.dropLast() }
            out += "<pre>" + HTMLText.shown(body) + "</pre>"
            index = close + 3
        }
        return out + lines(scalars[index...])
    }

    /// Text of a Block Kit `plain_text` object (a header, a button label) as Slack shows it: entities
    /// decoded and emoji shortcodes replaced, but not HTML-escaped, for a template's `{{…}}` to escape.
    public static func plainText(_ text: String) -> String {
        let scalars = HTMLText.slackDecoded(Array(text.unicodeScalars)[...])
        var out = ""
        var pending = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            if scalars[index] == ":", let (emoji, end) = EmojiShortcodes.match(scalars[...], at: index) {
                out += String(pending) + emoji
                pending = String.UnicodeScalarView()
                index = end
            } else {
                pending.append(scalars[index])
                index += 1
            }
        }
        return out + String(pending)
    }

    private static let fence: [Unicode.Scalar] = ["`", "`", "`"]

    private static func find(_ pattern: [Unicode.Scalar], in scalars: [Unicode.Scalar], from start: Int) -> Int? {
        guard start <= scalars.count - pattern.count else { return nil }
        for index in start...(scalars.count - pattern.count) where scalars[index...].starts(with: pattern) {
            return index
        }
        return nil
    }

    /// Text outside code blocks, line by line: markers never pair across a line break (as in Slack).
    private static func lines(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        scalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            InlineLine(Array(line)).html(0..<line.count)
        }.joined(separator: "<br>")
    }
}

/// One line of mrkdwn outside code blocks.
private struct InlineLine {
    let scalars: [Unicode.Scalar]
    /// Where each emphasis marker could close (not after a space, not before a letter): an opener takes
    /// the first one after it, found by binary search, so a line full of markers stays fast.
    let closers: [Unicode.Scalar: [Int]]

    static let tags: [Unicode.Scalar: String] = ["*": "strong", "_": "em", "~": "s"]

    /// Inline code; an incident or approval id alone in it (`inc_…`, `apr_…`, as the bot writes them)
    /// links to its page, so the feed leads to the incident's bundle and the request's votes.
    static func code(_ inner: ArraySlice<Unicode.Scalar>) -> String {
        let shown = "<code>" + HTMLText.shown(inner) + "</code>"
        let text = String(String.UnicodeScalarView(inner))
        let idCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-".unicodeScalars)
        guard (6...100).contains(inner.count), inner.allSatisfy({ idCharacters.contains($0) }) else { return shown }
        if text.hasPrefix("inc_") { return "<a href=\"/web/incidents/\(text)\">\(shown)</a>" }
        if text.hasPrefix("apr_") { return "<a href=\"/web/approvals/\(text)\">\(shown)</a>" }
        return shown
    }

    init(_ scalars: [Unicode.Scalar]) {
        self.scalars = scalars
        var closers: [Unicode.Scalar: [Int]] = [:]
        for (index, scalar) in scalars.enumerated() where Self.tags[scalar] != nil {
            let afterSpace = index == 0 || scalars[index - 1].properties.isWhitespace
            let beforeWord = index + 1 < scalars.count && Self.isWord(scalars[index + 1])
            if !afterSpace, !beforeWord { closers[scalar, default: []].append(index) }
        }
        self.closers = closers
    }

    static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    func html(_ range: Range<Int>) -> String {
        var out = ""
        var textStart = range.lowerBound
        var index = range.lowerBound
        func flush(to end: Int) {
            if textStart < end { out += HTMLText.shown(scalars[textStart..<end]) }
        }
        while index < range.upperBound {
            let scalar = scalars[index]
            var replaced: (html: String, end: Int)?
            switch scalar {
            case "`":
                if let close = scalars[(index + 1)..<range.upperBound].firstIndex(of: "`"), close > index + 1 {
                    replaced = (Self.code(scalars[(index + 1)..<close]), close + 1)
                }
            case "<":
                // The next `<` or `>`: a `>` closes the markup; a `<` first means this one is text.
                if let close = scalars[(index + 1)..<range.upperBound].firstIndex(where: { $0 == "<" || $0 == ">" }),
                   scalars[close] == ">" {
                    replaced = (Self.angle(scalars[(index + 1)..<close]), close + 1)
                }
            case "*", "_", "~":
                if let close = closer(of: scalar, openingAt: index, before: range.upperBound), let tag = Self.tags[scalar] {
                    replaced = ("<\(tag)>" + html((index + 1)..<close) + "</\(tag)>", close + 1)
                }
            case ":":
                replaced = EmojiShortcodes.match(scalars[..<range.upperBound], at: index).map { ($0.emoji, $0.end) }
            default:
                break
            }
            if let replaced {
                flush(to: index)
                out += replaced.html
                index = replaced.end
                textStart = index
            } else {
                index += 1
            }
        }
        flush(to: range.upperBound)
        return out
    }

    /// Where the emphasis opened by `marker` at `index` closes: it opens only at a word's start and
    /// before text, and encloses at least one character.
    private func closer(of marker: Unicode.Scalar, openingAt index: Int, before end: Int) -> Int? {
        guard index + 1 < end, !scalars[index + 1].properties.isWhitespace, scalars[index + 1] != marker,
              index == 0 || !Self.isWord(scalars[index - 1]), let candidates = closers[marker] else { return nil }
        var low = 0, high = candidates.count
        while low < high {
            let middle = (low + high) / 2
            if candidates[middle] < index + 2 { low = middle + 1 } else { high = middle }
        }
        return low < candidates.count && candidates[low] < end ? candidates[low] : nil
    }

    /// What Slack writes between `<` and `>`: a link, a mention or a special word; anything else is
    /// shown as the text it is, brackets included.
    static func angle(_ content: ArraySlice<Unicode.Scalar>) -> String {
        let bar = content.firstIndex(of: "|")
        let target = content[content.startIndex..<(bar ?? content.endIndex)]
        let label = bar.map { content[($0 + 1)...] }.flatMap { $0.isEmpty ? nil : $0 }
        let address = String(String.UnicodeScalarView(HTMLText.slackDecoded(target)))
        let lowered = address.lowercased()
        if let scheme = ["https://", "http://", "mailto:"].first(where: { lowered.hasPrefix($0) }), lowered.count > scheme.count {
            let shown = label.map(HTMLText.shown) ?? HTMLText.escaped(scheme == "mailto:" ? String(address.dropFirst(scheme.count)) : address)
            return "<a href=\"\(HTMLText.escaped(address))\" rel=\"noopener noreferrer\">\(shown)</a>"
        }
        switch target.first {
        case "@", "#":
            // A user or channel id means nothing here; its label, when Slack sent one, does.
            let sigil = target.first == "@" ? "@" : "#"
            let name = label.map(HTMLText.shown) ?? HTMLText.shown(target.dropFirst())
            return "<span class=\"mention\">\(sigil)\(name)</span>"
        case "!":
            // `<!here>`, `<!channel>`; `<!date^…|fallback>` and `<!subteam^…|@team>` carry their text.
            let word = target.dropFirst().prefix { $0 != "^" }
            return "<span class=\"mention\">" + (label.map(HTMLText.shown) ?? "@" + HTMLText.shown(word)) + "</span>"
        default:
            return "&lt;" + HTMLText.shown(content) + "&gt;"
        }
    }
}
