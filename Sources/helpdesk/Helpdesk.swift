import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskAgents
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskServer
import HelpdeskPostgres
import HelpdeskStore
import Logging

@main
struct Helpdesk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "helpdesk",
        abstract: "Chat-ops bot for SRE and database teams.",
        version: BuildInfo.summary,
        subcommands: [ServeCommand.self, DemoCommand.self, DiagnoseCommand.self, SrebotCommand.self, SecbotCommand.self, GovbotCommand.self, ApprovalsCommand.self, PolicyCommand.self, GovExplainCommand.self,
                      AuditCommand.self, MailIngestCommand.self, ConfigCommand.self, JobsCommand.self, AlertsCommand.self,
                      RunbooksCommand.self, TemplatesCommand.self, VersionCommand.self, MigrateCommand.self, BackupCommand.self, RestoreCommand.self,
                      ImportCommand.self, HashKeyCommand.self]
    )
}

/// Options every subcommand that reads the configuration shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: """
        Configuration file (default: $HELPDESK_CONFIG, else $XDG_CONFIG_HOME/helpdesk/helpdesk.yaml \
        (~/.config/helpdesk/helpdesk.yaml), else /etc/helpdesk/helpdesk.yaml, the first that exists; else built-in defaults).
        """)
    var config: String?

    @Option(name: .long, help: "Log format: human or json (overrides logging.format).")
    var logFormat: LogFormat?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (overrides logging.level).")
    var logLevel: LoggingSettings.Level?

    /// Loads the configuration, or prints every problem and exits with status 2.
    func loadConfiguration() throws -> HelpdeskConfiguration {
        do {
            return try HelpdeskConfiguration.load(explicitPath: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            for warning in error.warnings { printError("warning: \(warning)") }
            for issue in error.issues { printError(issue.description) }
            throw ExitCode(2)
        }
    }

    /// Sets up logging once for the process, with every configured secret masked.
    /// `defaultLevel` applies when neither the flag nor the file sets a level (one-shot commands keep quiet).
    func bootstrapLogging(_ configuration: HelpdeskConfiguration, defaultLevel: Logger.Level? = nil) -> (Logger, Redactor) {
        let redactor = Redactor()
        redactor.register(configuration.secrets)
        let format = logFormat ?? configuration.logging.format
        let level = logLevel?.swiftLogLevel ?? (configuration.logging.levelIsSet ? configuration.logging.level.swiftLogLevel : nil)
            ?? defaultLevel ?? configuration.logging.level.swiftLogLevel
        LoggingSystem.bootstrap({ label, provider in
            var handler = HelpdeskLogHandler(label: label, format: format, level: level, redactor: redactor)
            handler.metadataProvider = provider
            return handler
        }, metadataProvider: LogCorrelation.metadataProvider)
        return (Logger(label: "helpdesk"), redactor)
    }
}

extension LogFormat: ExpressibleByArgument {}
extension LoggingSettings.Level: ExpressibleByArgument {}
extension JobState: ExpressibleByArgument {}

/// One line on standard error, prefixed with the program name.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("helpdesk: \(message)\n".utf8))
}

/// Runs `body` with the configured store open, and closes it afterwards whatever happens.
func withStore<Result>(_ configuration: HelpdeskConfiguration, _ body: (any Store) async throws -> Result) async throws -> Result {
    let store = try await openStore(configuration)
    do {
        let result = try await body(store)
        try await store.close()
        return result
    } catch {
        try? await store.close()
        throw error
    }
}

/// What opening the store may do to a schema behind this binary.
enum SchemaChanges {
    /// Apply every pending migration: `serve` unless store.migrate_on_start is false.
    case migrate
    /// Build the schema of a new, empty store, which no server can be using; refuse an older one.
    /// Every command but `serve` and `migrate`: one that migrated a large store would hold its lock
    /// for as long as that takes and lock out a running older server.
    case initializeEmpty
    /// Refuse even an empty store: `serve` with store.migrate_on_start false, so a mistyped
    /// store.path is not silently a new store.
    case refuse
}

/// Opens the configured store — the SQLite file, or PostgreSQL at `store.url` — or explains why it
/// cannot and exits: 2 for a schema behind this binary (the message names `helpdesk migrate`), 1 otherwise.
func openStore(_ configuration: HelpdeskConfiguration, changes: SchemaChanges = .initializeEmpty,
               willMigrate: (@Sendable (SchemaStatus) -> Void)? = nil) async throws -> any Store {
    do {
        let store: any Store
        switch configuration.store.driver {
        case .sqlite:
            store = try SQLiteStore(options: .init(
                path: configuration.store.path, busyTimeout: configuration.store.busyTimeout,
                defaultMaxAttempts: configuration.jobs.maxAttempts, migrateOnOpen: changes == .migrate,
                initializeEmpty: changes == .initializeEmpty, willMigrate: willMigrate))
        case .postgres:
            let endpoint = try storeEndpoint(configuration)
            if endpoint.isUnverified {
                printError("warning: the store's connection to \(endpoint.displayName) does not verify the server's certificate "
                           + "(sslmode=\(endpoint.connection.sslMode.rawValue)); use sslmode=verify-full (with sslrootcert for a private CA)")
            }
            store = try await PostgresStore.open(options: .init(
                endpoint: endpoint, defaultMaxAttempts: configuration.jobs.maxAttempts,
                migrateOnOpen: changes == .migrate, initializeEmpty: changes == .initializeEmpty, willMigrate: willMigrate,
                maxConnections: configuration.store.maxConnections))
        }
        // Every process that writes the store seals its events the same way (keyed when audit.key is set).
        store.attachAuditChain(.configured(configuration.audit, storePath: configuration.store.localFilePath))
        return store
    } catch let error as StoreError {
        printError(error.description)
        if case .olderSchema = error { throw ExitCode(2) }
        throw ExitCode(1)
    } catch let error as ExitCode {
        throw error
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

/// The PostgreSQL server `store.url` names, with the password as libpq finds it (the URL, then
/// `PGPASSWORD`, then `PGPASSFILE` or `~/.pgpass`). Messages never carry the URL itself.
func storeEndpoint(_ configuration: HelpdeskConfiguration) throws -> PostgresEndpoint {
    guard let url = configuration.store.postgresURL?.reveal() else {
        printError("store.url is not set")
        throw ExitCode(1)
    }
    do {
        let connection = try PostgresConnectionString(parsing: url)
        let credentials = configuration.infrastructure.postgresCredentials
        return try PostgresEndpoint.resolve(connection, environmentPassword: credentials.password?.reveal(), passFile: credentials.passFile)
    } catch let error as PostgresConnectionString.ParseError {
        printError("store.url is not a valid PostgreSQL URL: \(error.message)")
        throw ExitCode(1)
    } catch {
        printError("store.url: \(error)")
        throw ExitCode(1)
    }
}

/// Runs `body` over the whole process graph, built by the same ``Composition`` as `helpdesk serve`,
/// so a command's diagnoses pass the gate and its votes notify Slack and email like the server's.
/// A configuration whose policies or runbooks do not load exits with 2, naming the problem.
func withComposition<Result>(_ configuration: HelpdeskConfiguration, logger: Logger, redactor: Redactor,
                             _ body: (Composition) async throws -> Result) async throws -> Result {
    try await withStore(configuration) { store in
        let app: Composition
        do {
            app = try await Composition.build(configuration, store: store, redactor: redactor,
                                              environment: ProcessInfo.processInfo.environment, logger: logger)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        return try await body(app)
    }
}

/// Who a command acts as: `--as NAME`, else the login name, looked up under `users:` (an unknown
/// name is decided by policy as a person with no roles).
func commandLinePrincipal(_ name: String?, governance: Governance) -> Principal {
    let login = name ?? ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "cli"
    return governance.principal(named: login)
}
