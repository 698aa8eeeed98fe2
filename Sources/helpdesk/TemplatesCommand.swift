import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskServer

struct TemplatesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "templates", abstract: "Show and export the templates (and runbooks and policies) in force.",
        subcommands: [List.self, Export.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the Slack, email and web templates in force and where each comes from (the binary or a configured folder).",
            discussion: "Exit status: 0, or 2 when a template does not parse (each is named after the list).")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let content = ContentLibrary(configuration)
            for kind in [ContentKind.slackTemplates, .emailTemplates, .webPages] {
                let files = try contentFiles(content, kind)
                    + (kind == .webPages ? WebAsset.allCases.map { try webAssetFile(content, $0) } : [])
                let origin = content.folders[kind].map { "\(kind.configurationKey): \($0), over the built-in ones" } ?? "built in"
                print("\(kind) (\(origin)):")
                let width = (files.map(\.templateName.count).max() ?? 0) + 2
                for file in files { print("  " + pad(file.templateName, width) + file.location) }
            }
            // A template that does not parse stops `serve`: say so here too, with the same message.
            _ = try checkContent(configuration, kinds: [.slackTemplates, .emailTemplates, .webPages])
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the templates, runbooks and policies in force under DIR, laid out as in the repository.",
            discussion: """
                Writes DIR/templates/slack, DIR/templates/email, DIR/templates/web, DIR/runbooks and DIR/policies: what is \
                in force, configured folders merged over the built-in files. Edit what you need, keep only the files you \
                change, and name the folders in the configuration (slack.templates_dir, smtp.templates_dir, \
                approvals.pages_dir, diagnosis.runbooks_dir; policies.dir replaces the built-in policies, so keep all of \
                them there). Nothing is written when a file already exists, unless --force.
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The folder to write into (created when missing).") var directory: String
        @Flag(help: "Overwrite files that already exist.") var force = false

        func run() async throws {
            let content = ContentLibrary(try global.loadConfiguration())
            var planned: [(file: ContentFile, path: String)] = []
            for kind in ContentKind.allCases {
                for file in try contentFiles(content, kind) {
                    planned.append((file, (directory as NSString).appendingPathComponent(kind.rawValue + "/" + file.name)))
                }
            }
            // The web channel's stylesheet and script override the same way, so they are a start too.
            for asset in WebAsset.allCases {
                let file = try webAssetFile(content, asset)
                planned.append((file, (directory as NSString).appendingPathComponent(file.kind.rawValue + "/" + file.name)))
            }
            let existing = planned.map { $0.path }.filter { FileManager.default.fileExists(atPath: $0) }
            if !existing.isEmpty, !force {
                for path in existing { printError("\(path) exists") }
                printError("nothing written: \(existing.count) of \(planned.count) files exist (--force overwrites them)")
                throw ExitCode(1)
            }
            for (file, path) in planned {
                do {
                    let folder = parentFolder(of: path)
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    try Data(file.text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                } catch {
                    printError("cannot write \(path): \(describeFileError(error))")
                    throw ExitCode(1)
                }
                print("\(path)  (from \(file.source == .binary ? "the binary" : file.location))")
            }
        }
    }
}

/// The web channel's `asset` in force, or the problem printed and exit status 2.
private func webAssetFile(_ content: ContentLibrary, _ asset: WebAsset) throws -> ContentFile {
    do {
        return try content.webAsset(asset)
    } catch {
        printError("\(error)")
        throw ExitCode(2)
    }
}
