import Crypto
import Foundation
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskOrchestrator
import HelpdeskServer
import HelpdeskShippedContent
import HelpdeskSlack
import HelpdeskTestSupport
import Mustache
import Testing

@Suite struct ShippedContentTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// What the plugin should embed: every file under the three folders but READMEs, hidden entries
    /// and `policies/example.yaml` (documentation to copy from, not content).
    static func repositoryFiles() throws -> [String: String] {
        var files: [String: String] = [:]
        for folder in ["templates", "runbooks", "policies"] {
            let base = repositoryRoot + "/" + folder
            for name in try FileManager.default.subpathsOfDirectory(atPath: base) {
                let path = folder + "/" + name
                var isDirectory: ObjCBool = false
                guard !name.split(separator: "/").contains(where: { $0.hasPrefix(".") }), !name.hasSuffix("README.md"),
                      path != "policies/example.yaml",
                      FileManager.default.fileExists(atPath: base + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue
                else { continue }
                files[path] = try String(contentsOfFile: base + "/" + name, encoding: .utf8)
            }
        }
        return files
    }

    static let ownRunbook = """
        name: postgres-locks
        description: ours
        match: {symptoms: [wedged]}
        tools: [{tool: blocking_locks}]
        """

    @Test func theBinaryHoldsExactlyTheRepositorysFiles() throws {
        let repository = try Self.repositoryFiles()
        let embedded = ContentLibrary.builtIn().shipped
        #expect(repository["runbooks/postgres-locks.yaml"] != nil && repository["templates/web/approval.mustache"] != nil)
        #expect(embedded.keys.sorted() == repository.keys.sorted())
        for (path, text) in repository {
            // Byte for byte: emoji, quotes, backslashes and `#` must survive the generated literals.
            #expect(embedded[path].map { Array($0.utf8) } == Array(text.utf8), "\(path) differs from the copy in the binary")
        }
    }

    @Test func theBuiltInDigestIsTheSHA256OfSha256sumsLinesForTheEmbeddedFiles() throws {
        func hex(_ text: String) -> String {
            SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
        }
        let files = ContentLibrary.builtIn().shipped.sorted { $0.key < $1.key }
        let manifest = files.map { path, text in "\(hex(text))  \(path)\n" }.joined()
        #expect(ContentLibrary.builtInDigest == hex(manifest))
    }

    @Test func noFolderIsConfiguredByDefaultAndEverythingComesFromTheBinary() throws {
        // The working directory is process-wide, so rather than moving it this checks that nothing names a folder.
        let configuration = try HelpdeskConfiguration(yaml: "", file: "test.yaml", environment: ["HELPDESK_DIAGNOSIS_RUNBOOKS_DIR": ""])
        #expect(configuration.slack.templatesDirectory == nil && configuration.smtp.templatesDirectory == nil)
        #expect(configuration.approvals.pagesDirectory == nil && configuration.diagnosis.runbooksDirectory == nil)
        #expect(configuration.policies.directory == nil)
        let content = ContentLibrary(configuration)
        #expect(content.folders.isEmpty)
        for kind in ContentKind.allCases {
            let files = try content.files(kind)
            #expect(!files.isEmpty && files.allSatisfy { $0.source == .binary }, "\(kind)")
        }
        let runbooks = try RunbookLoader.load(from: content)
        #expect(runbooks.contains { $0.name == "postgres-locks" && $0.file == "built-in runbooks/postgres-locks.yaml" })
        #expect(try PolicyLoader.load(from: content).map(\.name) == ["production", "everything-else"])
    }

    @Test func aTemplateFolderOverridesFileByFileAndAddsNewFiles() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("help.mustache", "{\"text\": \"our own help\"}")
        try folder.write("extra.mustache", "{\"text\": \"extra\"}")
        try folder.write("notes.txt", "not a template")
        let shipped = ContentLibrary.builtIn().shippedFiles(.slackTemplates)
        let files = try ContentLibrary.builtIn(folders: [.slackTemplates: folder.path]).files(.slackTemplates)
        #expect(files.map(\.name) == (shipped.map(\.name) + ["extra.mustache"]).sorted())
        #expect(files.first(where: { $0.name == "help.mustache" })?.source == .folder(folder.path))
        #expect(files.first(where: { $0.name == "diagnosis.mustache" }) == shipped.first(where: { $0.name == "diagnosis.mustache" }))
        let renderer = try SlackRenderer(templates: files)
        #expect(renderer.render("help", [:], fallbackText: "fallback")["text"] == .string("our own help"))
        #expect(renderer.render("error", ["message": "m"], fallbackText: "fallback")["blocks"] != nil, "the others still come from the binary")
    }

    @Test func aRunbookFileReplacesTheShippedOneOfTheSameNameAndNewFilesAdd() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("postgres-locks.yaml", Self.ownRunbook)
        try folder.write("our-checks.yaml", Self.ownRunbook.replacingOccurrences(of: "name: postgres-locks", with: "name: our-checks"))
        let shipped = try RunbookLoader.load(from: ContentLibrary.builtIn())
        let runbooks = try RunbookLoader.load(from: ContentLibrary.builtIn(folders: [.runbooks: folder.path]))
        #expect(runbooks.count == shipped.count + 1)
        #expect(runbooks.first(where: { $0.name == "postgres-locks" })?.description == "ours")
        #expect(runbooks.first(where: { $0.name == "postgres-locks" })?.file == folder.file("postgres-locks.yaml"))
        #expect(runbooks.first(where: { $0.name == "our-checks" }) != nil)
        #expect(runbooks.first(where: { $0.name == "postgres-health" })?.file == "built-in runbooks/postgres-health.yaml")
    }

    @Test func aNewRunbookFileMayNotReuseAShippedRunbooksName() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("mine.yaml", Self.ownRunbook)
        #expect {
            try RunbookLoader.load(from: ContentLibrary.builtIn(folders: [.runbooks: folder.path]))
        } throws: { error in
            "\(error)".contains("runbook name \"postgres-locks\" is also used by")
        }
    }

    @Test func aPolicyFolderReplacesTheBuiltInPoliciesWhole() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("reads.yaml", "version: \"1\"\npolicies:\n  - name: reads\n    rules:\n      - {action: read, effect: allow}\n")
        let policies = try PolicyLoader.load(from: ContentLibrary.builtIn(folders: [.policies: folder.path]))
        #expect(policies.map(\.name) == ["reads"])
        #expect(policies.first?.file == folder.file("reads.yaml"))
    }

    @Test func aConfiguredFolderThatDoesNotExistIsAConfigurationError() throws {
        do {
            _ = try HelpdeskConfiguration(yaml: "slack:\n  templates_dir: /nonexistent/helpdesk-slack\n", file: "test.yaml")
            Issue.record("a folder that does not exist should not load")
        } catch {
            #expect(error.issues.map(\.keyPath) == ["slack.templates_dir"])
            #expect(error.issues.first?.line == 2)
            #expect(error.issues.first?.message.hasPrefix("no such folder /nonexistent/helpdesk-slack") == true)
        }
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let existing = try HelpdeskConfiguration(yaml: "diagnosis:\n  runbooks_dir: \(folder.path)\n", file: "test.yaml")
        #expect(ContentLibrary(existing).folders == [.runbooks: folder.path])
        // A folder removed after the configuration was read.
        #expect(throws: ContentError.missingFolder(.policies, path: "/nonexistent/policies")) {
            try ContentLibrary.builtIn(folders: [.policies: "/nonexistent/policies"]).files(.policies)
        }
    }

    @Test func hiddenEntriesOfAConfigMapVolumeAreSkipped() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder.file("..2026_01_01"), withIntermediateDirectories: true)
        try folder.write("..2026_01_01/help.mustache", "{\"text\": \"from the volume\"}")
        try FileManager.default.createSymbolicLink(atPath: folder.file("..data"), withDestinationPath: "..2026_01_01")
        try FileManager.default.createSymbolicLink(atPath: folder.file("help.mustache"), withDestinationPath: "..data/help.mustache")
        let files = try ContentLibrary.read(.slackTemplates, folder: folder.path)
        #expect(files.map(\.name) == ["help.mustache"])
        #expect(files.first?.text == "{\"text\": \"from the volume\"}")
    }

    @Test func templatesKeepTheirNamesWithoutTheMustacheExtension() throws {
        let email = try MustacheLibrary(templates: ContentLibrary.builtIn().files(.emailTemplates))
        #expect(email.getTemplate(named: "approval_request.html") != nil && email.getTemplate(named: "approval_request.txt") != nil)
        let pages = try MustacheLibrary(templates: ContentLibrary.builtIn().files(.webPages))
        #expect(pages.render(["message": "hello"], withTemplate: "approval")?.contains("<html") == true)
    }

    @Test func aBrokenOverrideTemplateIsNamedByItsPath() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("approval.mustache", "{{#open}} never closed")
        let files = try ContentLibrary.builtIn(folders: [.webPages: folder.path]).files(.webPages)
        #expect {
            try MustacheLibrary(templates: files)
        } throws: { error in
            (error as? ContentError)?.path == folder.file("approval.mustache")
        }
    }
}
