import HelpdeskConfig
import HelpdeskContent
import HelpdeskShippedContent

extension ContentLibrary {
    /// The content in force for `configuration`: what the binary ships, with the folders it names
    /// (`slack.templates_dir`, `smtp.templates_dir`, `approvals.pages_dir`, `diagnosis.runbooks_dir`,
    /// `policies.dir`) on top, or the one file `policies.file` names as the policies. With none
    /// named, nothing is read from disk.
    public init(_ configuration: HelpdeskConfiguration) {
        let named: [(ContentKind, String?)] = [
            (.slackTemplates, configuration.slack.templatesDirectory),
            (.emailTemplates, configuration.smtp.templatesDirectory),
            (.webPages, configuration.approvals.pagesDirectory),
            (.runbooks, configuration.diagnosis.runbooksDirectory),
            (.policies, configuration.policies.directory),
        ]
        var folders: [ContentKind: String] = [:]
        for case let (kind, folder?) in named {
            folders[kind] = folder
        }
        var files: [ContentKind: String] = [:]
        if let file = configuration.policies.file { files[.policies] = file }
        self = .builtIn(folders: folders, namedFiles: files)
    }
}
