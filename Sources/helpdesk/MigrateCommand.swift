import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the store's pending migrations and exit.",
        discussion: """
            Only this and `helpdesk serve` (at start, unless store.migrate_on_start is false) change the store's \
            schema; every other command refuses a store behind the binary. Stop the server first: the store is \
            refused while any process has it open, and locked until the migrations are done. Back it up first \
            (helpdesk backup FILE). A migration that rebuilds a table needs room for copies: the store's folder \
            must have 3 × the store and its log free (--force skips the check). A store written by a newer \
            helpdesk is refused. Exit 0 when the schema is current, 1 when the store cannot be migrated.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Migrate even when the store's folder has less free space than a table rebuild may need.")
    var force = false

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let path = configuration.store.path
        // One case per store driver, so a new driver must say how it migrates.
        switch configuration.store.driver {
        case .sqlite:
            do {
                let report = try SQLiteStore.migrate(path: path, checkSpace: !force) { before in
                    // Said, and written out, before the first migration starts: it may hold the store for minutes.
                    FileHandle.standardOutput.write(Data(Self.announce(before, path: path).utf8))
                }
                print(Self.describe(report, path: path))
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
        case .postgres:
            // Under PostgreSQL's advisory lock: replicas starting meanwhile wait, then find nothing to do.
            let location = configuration.store.displayLocation
            let store = try await openStore(configuration, changes: .migrate) { before in
                FileHandle.standardOutput.write(Data(Self.announce(before, path: location).utf8))
            }
            print(Self.describe(store.migration, path: store.location))
            try await store.close()
        }
    }

    static func announce(_ before: SchemaStatus, path: String) -> String {
        "migrating the store at \(path) from schema \(before.versionDescription) to \(before.latestDescription) "
            + "(\(before.pending.count) migration(s); this may take a while)…\n"
    }

    static func describe(_ report: MigrationReport, path: String) -> String {
        guard !report.applied.isEmpty else {
            return "the store at \(path) is at schema \(report.after.versionDescription), the latest this helpdesk knows: nothing to apply"
        }
        return "migrated the store at \(path) from schema \(report.before.versionDescription) to \(report.after.versionDescription) "
            + "(applied \(report.applied.joined(separator: ", ")))"
    }
}
