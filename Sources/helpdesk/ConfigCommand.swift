import ArgumentParser
import HelpdeskConfig
import HelpdeskContent
import HelpdeskServer

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with the configuration file.",
        subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration without starting anything; exit 0 when valid, 2 when not.",
            discussion: """
                Also loads every template, runbook and policy in force (the built-in ones with the configured \
                folders on top) as `serve` would, and names each file that does not load: `serve` refuses to \
                start with the same messages. Entries of those folders that are not regular files are skipped \
                with a warning. What a policy file says that likely does not mean what it says (a tool this \
                server does not have, a limit of 0) is a warning too, with its file and line.
                """)

        @Argument(help: "The file to check (default: as `serve` would find it).")
        var file: String?

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            var options = global
            if let file { options.config = file }
            let configuration = try options.loadConfiguration()
            let check = try checkContent(configuration)
            for entry in check.skipped { printError("warning: \(entry)") }
            for warning in check.warnings { printError("warning: \(warning)") }
            for warning in configuration.warnings { printError("warning: \(warning)") }
            // Counted the same whether the inventory is inline or in infrastructure.file, which is named.
            let inventory = configuration.infrastructure
            let inventorySource = inventory.file.map { " from \($0)" } ?? ""
            let directory = configuration.directory
            let people = directory.users.isEmpty && directory.serviceAccounts.isEmpty ? ""
                : "; \(directory.users.count) user(s), \(directory.serviceAccounts.count) service account(s)" + (directory.file.map { " from \($0)" } ?? "")
            print("ok: \(configuration.file ?? "built-in defaults") — listen \(configuration.server.listen), store \(configuration.store.displayLocation), "
                + "\(inventory.dbServers.count) database(s), \(inventory.k8sClusters.count) cluster(s), \(inventory.vms.count) VM(s)\(inventorySource)\(people)"
                + Self.webSummary(configuration))
        }

        /// Who can sign in to the web channel: nobody is a likely mistake worth seeing here.
        static func webSummary(_ configuration: HelpdeskConfiguration) -> String {
            let web = configuration.web
            guard web.enabled else { return "; web channel off" }
            let withPassword = configuration.directory.users.filter { $0.passwordHash != nil }.count
            let proxy = web.identityHeader.map { ", or \($0) from trusted proxies" } ?? ""
            return "; web channel: \(withPassword) user(s) with a password\(proxy)"
        }
    }
}

/// Loads every template, runbook and policy in force; prints each one that does not load, with its
/// file, and exits with status 2 when any does not (`config check` and `serve` before it opens the store).
func checkContent(_ configuration: HelpdeskConfiguration,
                  kinds: [ContentKind] = ContentKind.allCases) throws -> ContentCheck {
    let check = ContentCheck(ContentLibrary(configuration), kinds: kinds)
    guard check.problems.isEmpty else {
        for warning in check.warnings { printError("warning: \(warning)") }
        for problem in check.problems { printError(problem.description) }
        throw ExitCode(2)
    }
    return check
}
