import HelpdeskContent

extension ContentLibrary {
    /// The templates, runbooks and policies compiled into this executable (by `EmbedContentPlugin`
    /// from the package's `templates/`, `runbooks/` and `policies/`), with `folders` on top.
    public static func builtIn(folders: [ContentKind: String] = [:]) -> ContentLibrary {
        ContentLibrary(shipped: EmbeddedContent.files, folders: folders)
    }
}
