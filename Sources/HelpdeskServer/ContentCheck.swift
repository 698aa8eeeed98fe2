import HelpdeskContent
import HelpdeskGovernance
import HelpdeskOrchestrator
import HelpdeskSlack
import Mustache

/// A file of the content in force that does not load, and why.
public struct ContentProblem: Sendable, Equatable, CustomStringConvertible {
    /// The file's path, or `built-in runbooks/x.yaml`; for a folder that cannot be read, the folder.
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    init(_ error: ContentError) {
        self.init(file: error.path, message: error.reason)
    }

    public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

/// Every template, runbook and policy in force, loaded as the server would load it: what `helpdesk
/// config check` reports and what stops `helpdesk serve` from starting. An override that does not load
/// is a configuration error found at deploy time, not a feature that quietly turns off in an incident.
/// The built-in files pass (ShippedContentTests), so a problem is always in a configured folder.
public struct ContentCheck: Sendable {
    /// Each file that does not load; with any, the server does not start.
    public let problems: [ContentProblem]
    /// What loads but likely does not mean what it says, with file:line (today: policy files, such as
    /// a `match.tool` naming no tool of this server, or a limit of 0). Never stops a start.
    public let warnings: [ContentProblem]
    /// Entries of the configured folders that are not read (not regular files): worth a warning.
    public let skipped: [SkippedEntry]

    /// - Parameters:
    ///   - content: the content in force.
    ///   - kinds: what to check; `helpdesk templates list` checks only the templates.
    public init(_ content: ContentLibrary, kinds: [ContentKind] = ContentKind.allCases) {
        // Slack templates name the Slack content types in pragmas, resolved while parsing.
        SlackRenderer.registerContentTypes()
        let policies: (problems: [ContentProblem], warnings: [ContentProblem])
            = kinds.contains(.policies) ? Self.policyCheck(content) : ([], [])
        problems = kinds.flatMap { kind -> [ContentProblem] in
            switch kind {
            case .slackTemplates, .emailTemplates: Self.templateProblems(content, kind)
            case .webPages: Self.templateProblems(content, kind) + Self.webAssetProblems(content)
            case .runbooks: Self.runbookProblems(content)
            case .policies: policies.problems
            }
        }
        warnings = policies.warnings
        skipped = kinds.flatMap { content.skippedEntries($0) }
    }

    /// Each template that does not parse, not only the first.
    static func templateProblems(_ content: ContentLibrary, _ kind: ContentKind) -> [ContentProblem] {
        let files: [ContentFile]
        do {
            files = try content.files(kind)
        } catch {
            return [ContentProblem(error)]
        }
        return files.compactMap { file -> ContentProblem? in
            do throws(ContentError) {
                _ = try MustacheTemplate(content: file)
                return nil
            } catch {
                return ContentProblem(error)
            }
        }
    }

    /// The web channel's stylesheet and script that an override folder holds but that cannot be
    /// served (not UTF-8, too large, not a regular file).
    static func webAssetProblems(_ content: ContentLibrary) -> [ContentProblem] {
        WebAsset.allCases.compactMap { asset -> ContentProblem? in
            do throws(ContentError) {
                _ = try content.webAsset(asset)
                return nil
            } catch {
                return ContentProblem(error)
            }
        }
    }

    /// Each runbook that does not parse; when all do, a name used twice.
    static func runbookProblems(_ content: ContentLibrary) -> [ContentProblem] {
        let files: [ContentFile]
        do {
            files = try content.files(.runbooks)
        } catch {
            return [ContentProblem(error)]
        }
        let problems = files.compactMap { file -> ContentProblem? in
            do throws(RunbookLoader.LoadError) {
                _ = try RunbookLoader.parse(yaml: file.text, file: file.location)
                return nil
            } catch {
                return ContentProblem(file: error.file, message: error.message)
            }
        }
        guard problems.isEmpty else { return problems }
        do {
            _ = try RunbookLoader.load(files)
            return []
        } catch {
            return [ContentProblem(file: error.file, message: error.message)]
        }
    }

    /// Every problem of every policy file, and the warnings of what did load, as `helpdesk policy check`
    /// reports them (tool names checked against every tool this server has).
    static func policyCheck(_ content: ContentLibrary) -> (problems: [ContentProblem], warnings: [ContentProblem]) {
        do {
            let loaded = try PolicyLoader.load(from: content, knownTools: BuiltInTools.names)
            return ([], loaded.warnings.map { ContentProblem(file: $0.file, line: $0.line, message: $0.message) })
        } catch {
            return (error.errors.map { ContentProblem(file: $0.file, line: $0.line, message: $0.message) },
                    error.warnings.map { ContentProblem(file: $0.file, line: $0.line, message: $0.message) })
        }
    }
}
