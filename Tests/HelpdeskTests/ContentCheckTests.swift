import Foundation
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskServer
import HelpdeskShippedContent
import HelpdeskTestSupport
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Overrides that do not load stop the start (and `helpdesk config check`) instead of turning a
/// feature off; folder entries are read only when they are regular files of a bounded size.
@Suite struct ContentCheckTests {
    static let runbook = "name: ours\ndescription: ours\nmatch: {symptoms: [wedged]}\ntools: [{tool: blocking_locks}]\n"

    @Test func theBuiltInContentLoadsWhole() {
        let check = ContentCheck(ContentLibrary.builtIn())
        #expect(check.problems.isEmpty, "\(check.problems)")
        #expect(check.skipped.isEmpty)
    }

    @Test func everyBrokenOverrideIsNamedByItsFileWithTheParsersMessage() throws {
        let slack = try TemporaryDirectory()
        let runbooks = try TemporaryDirectory()
        defer { slack.remove(); runbooks.remove() }
        try slack.write("help.mustache", "{\"text\": \"ok\"}\n{{#broken}}\n")
        try slack.write("error.mustache", "{{% CONTENT_TYPE: NOPE }}")
        try slack.write("lines.mustache", "{{% CONTENT_TYPE: SLACK }}{\"text\": \"{{x}}\"}")
        try runbooks.write("ours.yaml", "name: [")
        let content = ContentLibrary.builtIn(folders: [.slackTemplates: slack.path, .runbooks: runbooks.path])
        let problems = ContentCheck(content).problems
        #expect(problems.map(\.file) == [slack.file("error.mustache"), slack.file("help.mustache"), runbooks.file("ours.yaml")])
        let help = problems.first { $0.file == slack.file("help.mustache") }?.description ?? ""
        #expect(help.contains("not a valid Mustache template") && help.contains("a section is not closed"), "\(help)")
        #expect(problems.first?.message.contains("an unknown {{% … }} pragma or content type") == true)
    }

    @Test func aRunbookNameUsedTwiceIsAProblemOnceEachFileParses() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("a.yaml", Self.runbook)
        try folder.write("b.yaml", Self.runbook)
        let problems = ContentCheck(ContentLibrary.builtIn(folders: [.runbooks: folder.path])).problems
        #expect(problems.count == 1 && problems.first?.message.contains("runbook name \"ours\" is also used by") == true)
    }

    @Test func theCompositionRefusesABrokenSlackTemplateInsteadOfTurningSlackOff() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("help.mustache", "{{#broken}}")
        let configuration = try HelpdeskConfiguration(
            yaml: "slack:\n  templates_dir: \(folder.path)\n", file: "test.yaml",
            environment: ["SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef"])
        try await withTemporaryStore { store in
            do {
                _ = try await Composition.build(configuration, store: store, redactor: Redactor(), environment: [:],
                                                logger: Logger(label: "test"))
                Issue.record("a Slack template that does not parse must stop the start")
            } catch {
                guard let error = error as? ServerError, case .invalidContent(let problems) = error else {
                    Issue.record("expected invalidContent, got \(error)")
                    return
                }
                #expect(problems.map(\.file) == [folder.file("help.mustache")])
                #expect(error.description.hasPrefix(folder.file("help.mustache") + ": not a valid Mustache template: line 1"))
            }
        }
    }

    @Test func aBrokenEmailOverrideStopsTheStartEvenWithEmailOff() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("approval_request.txt.mustache", "{{/never opened}}")
        let configuration = try HelpdeskConfiguration(yaml: "smtp:\n  templates_dir: \(folder.path)\n", file: "test.yaml")
        try await withTemporaryStore { store in
            await #expect(throws: ServerError.self) {
                try await Composition.build(configuration, store: store, redactor: Redactor(), environment: [:],
                                            logger: Logger(label: "test"))
            }
        }
    }

    @Test func aFIFOIsSkippedWithAWarningInsteadOfHangingTheRead() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        #expect(mkfifo(folder.file("help.mustache"), 0o600) == 0)
        try folder.write("error.mustache", "{\"text\": \"ours\"}")
        let content = ContentLibrary.builtIn(folders: [.slackTemplates: folder.path])
        let files = try content.files(.slackTemplates)
        #expect(files.first { $0.name == "help.mustache" }?.source == .binary, "the FIFO is not read; the shipped file stays")
        #expect(files.first { $0.name == "error.mustache" }?.source == .folder(folder.path))
        let fifo = SkippedEntry(path: folder.file("help.mustache"), reason: "a FIFO, not a regular file")
        #expect(content.skippedEntries(.slackTemplates) == [fifo])
        #expect(ContentCheck(content).skipped.count == 1)
    }

    @Test func aSymbolicLinkIsFollowedOnlyToARegularFile() throws {
        let folder = try TemporaryDirectory()
        let elsewhere = try TemporaryDirectory()
        defer { folder.remove(); elsewhere.remove() }
        try elsewhere.write("real.yaml", Self.runbook)
        #expect(mkfifo(elsewhere.file("pipe"), 0o600) == 0)
        let manager = FileManager.default
        try manager.createSymbolicLink(atPath: folder.file("linked.yaml"), withDestinationPath: elsewhere.file("real.yaml"))
        try manager.createSymbolicLink(atPath: folder.file("piped.yaml"), withDestinationPath: elsewhere.file("pipe"))
        try manager.createSymbolicLink(atPath: folder.file("dangling.yaml"), withDestinationPath: elsewhere.file("gone.yaml"))
        let content = ContentLibrary.builtIn(folders: [.runbooks: folder.path])
        #expect(try ContentLibrary.read(.runbooks, folder: folder.path).map(\.name) == ["linked.yaml"])
        #expect(content.skippedEntries(.runbooks) == [
            SkippedEntry(path: folder.file("dangling.yaml"), reason: "a symbolic link to nothing"),
            SkippedEntry(path: folder.file("piped.yaml"), reason: "a FIFO, not a regular file"),
        ])
    }

    @Test func aFileOverTheSizeLimitIsAnErrorNamingIt() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("big.yaml", String(repeating: "#", count: ContentLibrary.maxFileBytes + 1))
        try folder.write("fits.yaml", "version: \"1\"\npolicies: []\n" + String(repeating: "#", count: 1000))
        let error = ContentError.tooLarge(path: folder.file("big.yaml"), limit: ContentLibrary.maxFileBytes)
        #expect(throws: error) { try ContentLibrary.read(.policies, folder: folder.path) }
        #expect(error.description == folder.file("big.yaml") + ": larger than 1 MiB, the limit for a template, runbook or policy file")
        let problems = ContentCheck(ContentLibrary.builtIn(folders: [.policies: folder.path]), kinds: [.policies]).problems
        #expect(problems == [ContentProblem(file: folder.file("big.yaml"), message: error.reason)])
    }
}
