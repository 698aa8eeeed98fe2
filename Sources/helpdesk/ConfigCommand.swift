import ArgumentParser
import HelpdeskConfig

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with the configuration file.",
        subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration without starting anything; exit 0 when valid, 2 when not.")

        @Argument(help: "The file to check (default: as `serve` would find it).")
        var file: String?

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            var options = global
            if let file { options.config = file }
            let configuration = try options.loadConfiguration()
            let inventory = configuration.infrastructure
            print("ok: \(configuration.file ?? "built-in defaults") — listen \(configuration.server.listen), store \(configuration.store.path), "
                + "\(inventory.dbServers.count) database(s), \(inventory.k8sClusters.count) cluster(s), \(inventory.vms.count) VM(s)")
        }
    }
}
