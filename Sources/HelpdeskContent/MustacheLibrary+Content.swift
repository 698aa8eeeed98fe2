import Mustache

extension MustacheLibrary {
    /// A library of template files, each registered under its ``ContentFile/templateName`` so code
    /// and partials name it as they did when templates came from a folder.
    ///
    /// Parsing resolves `{{% CONTENT_TYPE: … }}` pragmas, so register custom content types first.
    public init(templates files: [ContentFile]) throws(ContentError) {
        self.init()
        for file in files {
            do {
                register(try MustacheTemplate(string: file.text), named: file.templateName)
            } catch {
                throw .invalidTemplate(location: file.location, reason: "\(error)")
            }
        }
    }
}
