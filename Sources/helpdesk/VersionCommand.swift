import ArgumentParser
import Foundation
import HelpdeskStore

struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the version, the git commit and the Swift compiler the binary was built from.",
        discussion: "Also the SHA-256 of the built-in templates, runbooks and policies (equal digests, equal content) and "
            + "the store schema it migrates to: a store at a higher one was written by a newer helpdesk.")

    @Flag(help: "One JSON object instead of lines.")
    var json = false

    private struct Output: Encodable {
        var version = BuildInfo.version
        var commit = BuildInfo.commit
        var swift = BuildInfo.swiftVersion
        var contentSHA256 = BuildInfo.contentDigest
        var storeSchema = SQLiteStore.knownMigrations.count

        enum CodingKeys: String, CodingKey {
            case version, commit, swift, contentSHA256 = "content_sha256", storeSchema = "store_schema"
        }
    }

    func run() async throws {
        guard !json else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(Output()), as: UTF8.self))
            return
        }
        let migrations = SQLiteStore.knownMigrations
        print("helpdesk \(BuildInfo.version)")
        print("commit:       \(BuildInfo.commit)")
        print("swift:        \(BuildInfo.swiftVersion)")
        print("content:      sha256 \(BuildInfo.contentDigest)")
        print("store schema: \(migrations.count) (\(migrations.last ?? "none"))")
    }
}
