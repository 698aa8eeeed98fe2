import ArgumentParser
import HelpdeskConfig
import HelpdeskStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the store's pending migrations and exit.",
        discussion: """
            `helpdesk serve` does this at start unless store.migrate_on_start is false; then it refuses a store \
            behind the binary until this has run. Back the store up first (helpdesk backup FILE). A store written \
            by a newer helpdesk is refused. Exit 0 when the schema is current, 1 when the store cannot be migrated.
            """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let configuration = try global.loadConfiguration()
        // One case per store driver, so a new driver must say how it migrates.
        switch configuration.store.driver {
        case .sqlite:
            let store = try openStore(configuration, migrate: true)
            let report = store.migration
            try await store.close()
            print(Self.describe(report, path: configuration.store.path))
        }
    }

    static func describe(_ report: MigrationReport, path: String) -> String {
        guard !report.applied.isEmpty else {
            return "the store at \(path) is at schema \(report.after.versionDescription), the latest this helpdesk knows: nothing to apply"
        }
        return "migrated the store at \(path) from schema \(report.before.versionDescription) to \(report.after.versionDescription) "
            + "(applied \(report.applied.joined(separator: ", ")))"
    }
}
