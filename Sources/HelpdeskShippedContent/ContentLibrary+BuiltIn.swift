import HelpdeskContent

extension ContentLibrary {
    /// The templates, runbooks and policies compiled into this executable (by `EmbedContentPlugin`
    /// from the package's `templates/`, `runbooks/` and `policies/`), with `folders` on top and
    /// `namedFiles` (`policies.file`) instead of them.
    public static func builtIn(folders: [ContentKind: String] = [:], namedFiles: [ContentKind: String] = [:]) -> ContentLibrary {
        ContentLibrary(shipped: EmbeddedContent.files, folders: folders, namedFiles: namedFiles)
    }

    /// SHA-256 over the files compiled into this executable, computed when it was built: two binaries
    /// with the same digest carry the same built-in content. It is the SHA-256 of what `sha256sum` prints
    /// for those files in path order, so it can be recomputed from a checkout:
    /// `git ls-files templates runbooks policies | grep -v -e README.md -e policies/example.yaml -e '/\.' |
    /// LC_ALL=C sort | xargs sha256sum | sha256sum`.
    public static var builtInDigest: String { EmbeddedContent.digest }
}
