import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskServer
import HelpdeskStore
import Logging
import Metrics
import Prometheus
import Synchronization
import UnixSignals
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See the whole loop on this machine: a throwaway PostgreSQL with a real incident, the bot and its web channel.",
        discussion: """
            Needs nothing but this binary and PostgreSQL's server programs (Debian: apt-get install postgresql). \
            Starts a throwaway PostgreSQL in a private temporary folder and plants an incident in it: a session idle in \
            transaction holding a row lock, five updates queued behind it, idle sessions filling the connections. Then \
            it starts the server as serve does (web channel, embedded store) and posts an Alertmanager alert to it. \
            Sign in as oncall, dba1 or dba2 with the password it prints: the diagnosis names the blocking session, \
            oncall's request to end it waits for both DBAs (oncall cannot approve it), the fix runs once, the updates \
            finish and the audit chain verifies. Ctrl-C stops everything and removes all it made.
            """)

    @Option(help: "Where the web channel and the webhooks listen, HOST:PORT; port 0 takes a free port (the printed URL has it).")
    var listen = "127.0.0.1:8080"

    @Option(help: "The password of oncall, dba1 and dba2 (default: a new random one, printed).")
    var password: String?

    @Flag(help: "Do not open the web channel in a browser.")
    var noBrowser = false

    @Flag(help: "Stop once the fix ran and the audit chain verified (exit 0); exit 1 when --timeout passes first.")
    var exitAfterFix = false

    @Option(help: "With --exit-after-fix: how long the story may take, such as 300s or 5m.")
    var timeout = "300s"

    @Option(help: """
        Level of the server's log on standard error: trace, debug, info, notice, warning, error, critical \
        (the story is on standard output).
        """)
    var logLevel: LoggingSettings.Level = .warning

    func run() async throws {
        guard let address = ListenAddress(parsing: listen) else {
            printError("--listen: expected HOST:PORT such as 127.0.0.1:8080, got \"\(listen)\"")
            throw ExitCode(2)
        }
        guard let limit = Duration(parsing: timeout), limit > .zero else {
            printError("--timeout: expected a duration such as 300s or 5m, got \"\(timeout)\"")
            throw ExitCode(2)
        }
        if let password, password.isEmpty || password != password.trimmingCharacters(in: .whitespacesAndNewlines) {
            printError("--password: give a password without spaces at its ends")
            throw ExitCode(2)
        }
        if !["127.0.0.1", "::1", "localhost"].contains(address.host) {
            printError("warning: listening on \(address.host): other machines reach the demo's open alert receiver and its sign-in")
        }
        let options = Demo.Options(listen: address, password: password ?? randomToken(length: 16), openBrowser: !noBrowser,
                                   exitAfterFix: exitAfterFix, timeout: limit, logLevel: logLevel.swiftLogLevel)
        let code = await Demo(options: options).run()
        if code != 0 { throw ExitCode(code) }
    }
}

/// One run of `helpdesk demo`: PostgreSQL and the planted incident, the server and its story, and the
/// cleanup that follows whatever happened — the sessions closed, PostgreSQL stopped, the folder removed.
///
/// Ctrl-C and SIGTERM are the demo's until the server runs (setup stops, cleanup follows), then the
/// server's own (its graceful shutdown, as for `serve`), then ignored while the demo cleans up.
struct Demo: Sendable {
    struct Options: Sendable {
        var listen: ListenAddress
        var password: String
        var openBrowser: Bool
        var exitAfterFix: Bool
        var timeout: Duration
        var logLevel: Logger.Level
    }

    let options: Options

    /// The process's exit status: 0 done (or stopped by Ctrl-C once the server ran, without --exit-after-fix),
    /// 1 failed, 2 PostgreSQL's programs missing, 130 interrupted before the server ran.
    func run() async -> Int32 {
        let environment = ProcessInfo.processInfo.environment
        guard let programs = await PostgresPrograms.locate(environment: environment) else {
            printError("helpdesk demo needs PostgreSQL's server binaries: apt-get install postgresql")
            return 2
        }
        let account: PostgresAccount
        do {
            account = try PostgresAccount.forThisProcess()
        } catch {
            printError(error.description)
            return 2
        }
        let redactor = Redactor()
        let level = options.logLevel
        LoggingSystem.bootstrap({ label, provider in
            var handler = HelpdeskLogHandler(label: label, format: .human, level: level, redactor: redactor)
            handler.metadataProvider = provider
            return handler
        }, metadataProvider: LogCorrelation.metadataProvider)
        let logger = Logger(label: "helpdesk.demo")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory.helpdesk(registry: registry))
        // Trapped before anything is made, so no signal can end the process with PostgreSQL still running.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let folder: String
        do {
            folder = try DemoFolder.create(passableBy: account)
        } catch {
            printError("\(error)")
            return 1
        }
        let postgres = DemoPostgres(programs: programs, account: account, folder: (folder as NSString).appendingPathComponent("pg"))
        let phase = DemoPhase()
        let setting = DemoSetting(folder: folder, postgres: postgres, phase: phase, registry: registry, redactor: redactor,
                                  logger: logger, environment: environment)
        let code: Int32 = await withTaskGroup(of: Int32?.self) { group in
            group.addTask {
                for await _ in signals {
                    guard phase.serverTakesSignals else { return 130 }
                    phase.stopRequested()
                }
                return nil
            }
            group.addTask { await play(setting) }
            var code: Int32 = 1
            while let result = await group.next() {
                guard let result else { continue }
                code = result
                break
            }
            group.cancelAll()
            return code
        }
        // A second Ctrl-C meanwhile changes nothing: the signals are still trapped, and nobody listens.
        await postgres.stop()
        DemoFolder.remove(folder)
        withExtendedLifetime(signals) {}
        if code == 130 { printError("demo: interrupted; removed everything it made") }
        return code
    }

    /// PostgreSQL, the incident, the configuration, the store; then the server and the story.
    private func play(_ setting: DemoSetting) async -> Int32 {
        var incident: DemoIncident?
        do {
            let postgres = setting.postgres
            try await postgres.initialize()
            try await postgres.start(logger: setting.logger)
            let database = DemoDatabase(socketDirectory: postgres.folder, port: DemoPostgres.port)
            try await database.create(logger: setting.logger)
            let planted = try await DemoIncident.plant(in: database, logger: setting.logger)
            incident = planted
            let files = DemoFiles(folder: setting.folder, listen: options.listen, postgresSocketDirectory: postgres.folder,
                                  postgresPort: DemoPostgres.port, passwordHash: Argon2idHash.make(secret: Array(options.password.utf8)))
            try files.write()
            // Loaded as serve loads it, from an environment without the caller's helpdesk, Slack or model settings.
            let environment = Self.isolated(setting.environment)
            let configuration = try HelpdeskConfiguration(contentsOf: files.configurationPath, environment: environment)
            // Not the demo password: it is printed anyway, and a short one would mask words in every log and event.
            setting.redactor.register(configuration.secrets)
            for warning in configuration.warnings { setting.logger.warning("configuration: \(warning)") }
            let store = try await openStore(configuration, changes: .migrate)
            let code = await serve(configuration, store: store, incident: planted, setting: setting, environment: environment)
            await planted.close()
            return code
        } catch {
            await incident?.close()
            if Task.isCancelled { return 130 }
            if let exit = error as? ExitCode { return exit.rawValue }
            if let invalid = error as? ConfigError {
                for issue in invalid.issues { printError(issue.description) }
                return 1
            }
            printError("demo: \(error)")
            return 1
        }
    }

    private enum ServingEvent: Sendable {
        case serverStopped((any Error)?)
        case storyEnded((any Error)?)
    }

    /// The server, as `helpdesk serve` runs it, and the story told against it. With --exit-after-fix the
    /// story's end stops the server the way an operator would: SIGTERM, a graceful shutdown.
    private func serve(_ configuration: HelpdeskConfiguration, store: any Store, incident: DemoIncident, setting: DemoSetting,
                       environment: [String: String]) async -> Int32 {
        let (running, started) = AsyncStream.makeStream(of: (Composition, ListenAddress).self)
        let story = DemoStory(incident: incident, password: options.password, openBrowser: options.openBrowser,
                              environment: setting.environment, browser: DemoKeepAlive())
        let options = self.options
        let phase = setting.phase
        return await withTaskGroup(of: ServingEvent.self) { group in
            group.addTask {
                do {
                    try await HelpdeskServer.run(configuration: configuration, store: store, registry: setting.registry,
                                                 redactor: setting.redactor, environment: environment,
                                                 logger: setting.logger, build: BuildInfo.labels) { composition, address in
                        phase.serverRunning()
                        started.yield((composition, address))
                        started.finish()
                    }
                    return .serverStopped(nil)
                } catch {
                    return .serverStopped(error)
                }
            }
            group.addTask {
                do {
                    if options.exitAfterFix {
                        try await Self.within(options.timeout) { try await story.tell(running: running) }
                    } else {
                        try await story.tell(running: running)
                    }
                    return .storyEnded(nil)
                } catch {
                    return .storyEnded(error)
                }
            }
            var code: Int32 = options.exitAfterFix ? 1 : 0
            while let event = await group.next() {
                switch event {
                case .serverStopped(let error):
                    phase.stopRequested()
                    if let error { code = Self.report(error, listen: options.listen) }
                    started.finish()
                    group.cancelAll()
                case .storyEnded(nil):
                    code = 0
                    if options.exitAfterFix {
                        phase.stopRequested()
                        Self.stopServer()
                    } else {
                        printError("demo: that was the whole story; look around the web channel, Ctrl-C removes everything")
                    }
                case .storyEnded(let error?):
                    // A story cut short by the shutdown (its store closing under it) did not fail.
                    guard !phase.isStopping, !(error is CancellationError) else { continue }
                    printError("demo: \(error)")
                    code = 1
                    if options.exitAfterFix {
                        phase.stopRequested()
                        Self.stopServer()
                    } else {
                        printError("demo: the web channel stays up to look around; Ctrl-C removes everything")
                    }
                }
            }
            return code
        }
    }

    /// Asks the server for its graceful shutdown, as `kill -TERM` would: its service group takes it.
    private static func stopServer() {
        kill(getpid(), SIGTERM)
    }

    /// Why the server stopped on its own, said as `serve` says it; the exit status `serve` would give.
    private static func report(_ error: any Error, listen: ListenAddress) -> Int32 {
        guard let error = error as? ServerError else {
            printError("demo: \(error)")
            return 1
        }
        switch error {
        case .invalidContent(let problems):
            for problem in problems { printError(problem.description) }
            return 2
        case .cannotListen:
            printError("\(error.description) (another program there? --listen 127.0.0.1:0 takes a free port)")
            return 1
        default:
            printError(error.description)
            return 1
        }
    }

    /// `body`, or a ``DemoError`` once `limit` has passed.
    private static func within(_ limit: Duration, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return true
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            let finished = try await group.next() ?? false
            group.cancelAll()
            if !finished { throw DemoError("the fix had not run and verified after \(limit.compactText) (--timeout)") }
        }
    }

    /// The environment the demo's server sees: the caller's, less what would configure it — helpdesk's
    /// own variables, Slack's and the model providers' keys, libpq's PG* settings — so a demo never acts
    /// with a real deployment's settings or credentials.
    static func isolated(_ environment: [String: String]) -> [String: String] {
        let keys: Set<String> = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MAILGUN_WEBHOOK_SIGNING_KEY"]
        return environment.filter { name, _ in
            !(name.hasPrefix("HELPDESK_") || name.hasPrefix("SLACK_") || name.hasPrefix("PG") || keys.contains(name))
        }
    }
}

/// What the parts of one demo run share.
struct DemoSetting: Sendable {
    var folder: String
    var postgres: DemoPostgres
    var phase: DemoPhase
    var registry: PrometheusCollectorRegistry
    var redactor: Redactor
    var logger: Logger
    var environment: [String: String]
}

/// Whether the server's service group answers Ctrl-C and SIGTERM now (from the moment it listens),
/// and whether its shutdown has begun.
final class DemoPhase: Sendable {
    private let state = Mutex((serving: false, stopping: false))

    var serverTakesSignals: Bool { state.withLock { $0.serving } }
    var isStopping: Bool { state.withLock { $0.stopping } }

    func serverRunning() {
        state.withLock { $0.serving = true }
    }

    func stopRequested() {
        state.withLock { $0.stopping = true }
    }
}
