import HelpdeskCore
import Mustache

extension MustacheLibrary {
    /// A library of template files, each registered under its ``ContentFile/templateName`` so code
    /// and partials name it as they did when templates came from a folder.
    ///
    /// Parsing resolves `{{% CONTENT_TYPE: … }}` pragmas, so register custom content types first.
    public init(templates files: [ContentFile]) throws(ContentError) {
        self.init()
        for file in files {
            register(try MustacheTemplate(content: file), named: file.templateName)
        }
    }
}

extension MustacheTemplate {
    /// Parses one template file. One that does not parse is named by its location, with the line,
    /// the column and what the parser found wrong.
    public init(content file: ContentFile) throws(ContentError) {
        do {
            guard file.isHTML else {
                try self.init(string: file.text)
                return
            }
            // swift-mustache escapes `{{…}}` for HTML per Character, which a combining mark next to `<`, `>`
            // or `"` gets through; HTML templates (and every partial: each starts again from the default)
            // escape scalar by scalar instead, whether or not their file says so.
            _ = ScalarHTMLContentType.register
            try self.init(string: "{{% CONTENT_TYPE: HTML }}" + file.text)
        } catch {
            throw .invalidTemplate(location: file.location, reason: Self.describe(error))
        }
    }

    /// `line 3, column 12: a section is not closed ({{/name}} is missing) in "{{#items}}"`.
    static func describe(_ error: any Swift.Error) -> String {
        guard let failure = error as? ParserError else { return "\(error)" }
        let name = "\(failure.error)"
        let context = failure.context
        let line = context.line.count > 80 ? String(context.line.prefix(79)) + "…" : context.line
        // At the end of the file (a section never closed) the line is empty: no quote then.
        let quoted = line.allSatisfy(\.isWhitespace) ? "" : " in \"\(line)\""
        return "line \(context.lineNumber), column \(context.columnNumber): \(words[name] ?? name)\(quoted)"
    }

    /// The parser's errors (`MustacheTemplate.Error`) in words, by case name: a case a newer
    /// swift-mustache adds still reads, by its name, and does not break the build.
    private static let words = [
        "sectionCloseNameIncorrect": "a section is closed with another name than it was opened with",
        "unfinishedName": "a tag is not finished",
        "expectedSectionEnd": "a section is not closed ({{/name}} is missing)",
        "invalidSetDelimiter": "a set-delimiter tag is malformed",
        "transformAppliedToInheritanceSection": "a transform is applied to an inheritance section",
        "illegalTokenInsideInheritSection": "a tag that is not allowed inside an inherited partial",
        "textInsideInheritSection": "text inside an inherited partial",
        "invalidConfigVariableSyntax": "a {{% … }} pragma is malformed",
        "unrecognisedConfigVariable": "an unknown {{% … }} pragma or content type",
    ]
}

/// HTML escaping scalar by scalar (``HTMLEscaping``), registered as `HTML` in place of swift-mustache's own.
struct ScalarHTMLContentType: MustacheContentType {
    func escapeText(_ text: String) -> String {
        HTMLEscaping.escaped(text)
    }

    /// Registers it once, before the first HTML template is parsed (pragmas resolve at parse time).
    static let register: Void = MustacheContentTypes.register(ScalarHTMLContentType(), named: "HTML")
}

extension ContentFile {
    /// Web pages and HTML emails: their `{{…}}` values are escaped for HTML.
    var isHTML: Bool {
        switch kind {
        case .webPages: name.hasSuffix(".mustache")
        case .emailTemplates: name.contains(".html")
        case .slackTemplates, .runbooks, .policies: false
        }
    }
}
