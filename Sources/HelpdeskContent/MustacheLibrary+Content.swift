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
            try self.init(string: file.text)
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
