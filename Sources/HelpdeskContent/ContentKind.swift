/// A kind of content helpdesk ships inside its binary, each of which a configured folder can override.
///
/// The raw value is the kind's folder in the package, in the binary and in `helpdesk templates export`.
public enum ContentKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case slackTemplates = "templates/slack"
    case emailTemplates = "templates/email"
    case webPages = "templates/web"
    case runbooks
    case policies

    /// How a configured folder combines with the files in the binary.
    public enum Layering: Sendable {
        /// A file in the folder replaces the shipped file of the same name; new names add; the
        /// rest still come from the binary.
        case fileByFile
        /// The folder's files are all there is: nothing of this kind comes from the binary.
        case folderReplaces
    }

    /// Policies are security: what an operator's folder holds is exactly what is in force, with no
    /// shipped policy added behind their back (and no clash with their policy names).
    public var layering: Layering {
        self == .policies ? .folderReplaces : .fileByFile
    }

    /// The configuration key that names this kind's folder.
    public var configurationKey: String {
        switch self {
        case .slackTemplates: "slack.templates_dir"
        case .emailTemplates: "smtp.templates_dir"
        case .webPages: "approvals.pages_dir"
        case .runbooks: "diagnosis.runbooks_dir"
        case .policies: "policies.dir"
        }
    }

    /// The configuration key that names one file as all the content of this kind, where there is one.
    public var fileConfigurationKey: String? {
        self == .policies ? "policies.file" : nil
    }

    public var description: String {
        switch self {
        case .slackTemplates: "Slack templates"
        case .emailTemplates: "email templates"
        case .webPages: "web pages"
        case .runbooks: "runbooks"
        case .policies: "policies"
        }
    }

    /// Templates may sit in subfolders (a partial `{{> sub/name}}`); runbooks and policies are read
    /// from the folder itself, as they always were.
    var readsSubfolders: Bool {
        isTemplate
    }

    var isTemplate: Bool {
        switch self {
        case .slackTemplates, .emailTemplates, .webPages: true
        case .runbooks, .policies: false
        }
    }

    /// Whether a file of this name is content of this kind; other files in a folder are ignored.
    func accepts(_ name: String) -> Bool {
        isTemplate ? name.hasSuffix(".mustache") : name.hasSuffix(".yaml") || name.hasSuffix(".yml")
    }
}
