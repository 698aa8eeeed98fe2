import ArgumentParser
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskOrchestrator
import HelpdeskServer

struct RunbooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runbooks", abstract: "Show the runbooks in force.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the runbooks in force: name, target type, where each comes from and what selects it.",
            discussion: "A runbook comes from the binary, or from diagnosis.runbooks_dir when that folder has a file of the same name " +
                "(or a new one). Exit status: 0, or 2 when the runbooks do not load.")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "One JSON object per line instead of a table.") var json = false

        func run() async throws {
            let files = try contentFiles(ContentLibrary(try global.loadConfiguration()), .runbooks)
            let runbooks: [Runbook]
            do {
                runbooks = try RunbookLoader.load(files)
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            let sources = Dictionary(files.map { ($0.location, $0.source) }, uniquingKeysWith: { first, _ in first })
            if json {
                for runbook in runbooks { print(Self.listing(runbook, source: sources[runbook.file]).jsonText) }
                return
            }
            print(builtInContentLine + "\n")
            let nameWidth = max(6, (runbooks.map(\.name.count).max() ?? 0) + 2)
            let fileWidth = max(8, (runbooks.map(\.file.count).max() ?? 0) + 2)
            print(pad("NAME", nameWidth) + pad("TYPE", 12) + pad("SOURCE", fileWidth) + "MATCHES")
            for runbook in runbooks {
                let columns = pad(runbook.name, nameWidth) + pad(runbook.targetType.rawValue, 12) + pad(runbook.file, fileWidth)
                print(columns + Self.matches(runbook))
            }
        }

        /// What selects a runbook, in the words of its `match:` section.
        static func matches(_ runbook: Runbook) -> String {
            var parts: [String] = []
            if !runbook.match.symptoms.isEmpty { parts.append("symptoms: " + runbook.match.symptoms.joined(separator: ", ")) }
            if !runbook.match.alerts.isEmpty { parts.append("alerts: " + runbook.match.alerts.joined(separator: ", ")) }
            if runbook.match.fallback { parts.append("fallback for \(runbook.targetType.rawValue) targets") }
            return parts.isEmpty ? "-" : parts.joined(separator: "; ")
        }

        static func listing(_ runbook: Runbook, source: ContentFile.Source?) -> JSONValue {
            .object([
                "name": .string(runbook.name), "description": .string(runbook.description),
                "target_type": .string(runbook.targetType.rawValue),
                "source": .string(source?.description ?? "binary"), "file": .string(runbook.file),
                "symptoms": .array(runbook.match.symptoms.map { .string($0) }),
                "alerts": .array(runbook.match.alerts.map { .string($0) }), "fallback": .bool(runbook.match.fallback),
            ])
        }
    }
}

/// Names the binary's built-in content, so two binaries' can be compared (as `helpdesk version` does).
var builtInContentLine: String { "built-in content: sha256 \(BuildInfo.contentDigest)" }

/// The files of `kind` in force, or the problem printed and exit status 2.
func contentFiles(_ content: ContentLibrary, _ kind: ContentKind) throws -> [ContentFile] {
    do {
        return try content.files(kind)
    } catch {
        printError("\(error)")
        throw ExitCode(2)
    }
}
