import Foundation
import PackagePlugin

/// Compiles the package's shipped templates, runbooks and policies into the target that uses it,
/// so the binary needs no folder beside it. Every embedded file is an input: editing one rebuilds.
@main
struct EmbedContentPlugin: BuildToolPlugin {
    /// The package's folders whose files ship inside the binary.
    static let folders = ["templates", "runbooks", "policies"]
    /// Files in those folders that are documentation for people, not content the binary uses.
    /// `policies/example.yaml` is a commented, disabled example to copy from.
    static let documentation: Set<String> = ["policies/example.yaml"]

    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let root = context.package.directoryURL
        let paths = Self.folders.flatMap { Self.files(under: $0, in: root) }
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("EmbeddedContent.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(paths.count) shipped templates, runbooks and policies",
                executable: try context.tool(named: "EmbedContent").url,
                arguments: [output.path, root.path] + paths,
                environment: [:],
                inputFiles: paths.map { root.appendingPathComponent($0) },
                outputFiles: [output]),
        ]
    }

    /// Regular files under `folder`, as paths relative to `root`, skipping hidden entries and READMEs.
    static func files(under folder: String, in root: URL) -> [String] {
        let base = root.appendingPathComponent(folder).path
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        var found: [String] = []
        while let next = walker.nextObject() as? String {
            let relative = folder + "/" + next
            let components = next.split(separator: "/")
            var isDirectory: ObjCBool = false
            guard !components.contains(where: { $0.hasPrefix(".") }), components.last != "README.md",
                  !documentation.contains(relative),
                  FileManager.default.fileExists(atPath: base + "/" + next, isDirectory: &isDirectory), !isDirectory.boolValue
            else { continue }
            found.append(relative)
        }
        return found.sorted()
    }
}
