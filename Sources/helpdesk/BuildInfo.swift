import CHelpdeskBuildInfo
import HelpdeskContent
import HelpdeskServer
import HelpdeskShippedContent

/// What `helpdesk version` and `helpdesk --version` report, fixed when the binary was built.
enum BuildInfo {
    /// Raised by hand for each release; UPGRADING.md says what changed.
    static let version = "0.1.0"

    /// The git commit, from HELPDESK_BUILD_COMMIT at build time (see Package.swift), else "unknown";
    /// it ends in `-dirty` when scripts/package was allowed to package uncommitted content.
    static let commit = String(cString: helpdesk_build_commit())

    /// SHA-256 over the built-in templates, runbooks and policies: compares two binaries' content.
    static let contentDigest = ContentLibrary.builtInDigest

    /// The compiler that built the binary, to the minor version (the language has no finer query).
    static let swiftVersion: String = {
        #if compiler(>=6.5)
        return "6.5 or later"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()

    /// The labels of `helpdesk_build_info` in `/metrics`.
    static var labels: BuildLabels { BuildLabels(version: version, commit: commit) }

    /// One line for `--version`: `0.1.0 (commit 1a2b3c4d5e6f, Swift 6.3)`.
    static var summary: String { "\(version) (commit \(commit.prefix(12)), Swift \(swiftVersion))" }
}
