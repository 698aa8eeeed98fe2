import ArgumentParser
import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskHTTPClient
import Logging
import HelpdeskOrchestrator
import HelpdeskServer
import HelpdeskSlack

struct SrebotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "srebot",
        abstract: "One-shot check of a target for a Kubernetes Job or CronJob: diagnose, print, optionally post to Slack.",
        discussion: """
            Exit status: 0 healthy, 1 findings, 2 error (the target could not be diagnosed, the server could not be asked, \
            or posting failed).

            With --server, the helpdesk server at that URL diagnoses (POST /api/v1/diagnose, as the API token's principal) \
            and this process opens no store and reads no inventory: its configuration needs only slack and logging. \
            Without it, the diagnosis runs here with this configuration.
            """)

    /// Connecting to --server gives up after this; the whole request after --timeout.
    static let connectTimeout: Duration = .seconds(5)
    /// A diagnosis is far smaller; a reply this big is not one.
    static let maxReplyBytes = 8 * 1024 * 1024

    @OptionGroup var global: GlobalOptions
    @Option(help: "The inventory target.") var target: String
    @Option(help: "What is wrong, in words; picks the runbooks.") var symptom: String?
    @Flag(help: "Print (and post) the full diagnosis even when the target is healthy.") var force = false
    @Flag(help: "Post the diagnosis to slack.default_channel (needs SLACK_BOT_TOKEN).") var post = false
    @Flag(help: "Print the diagnosis as JSON.") var json = false
    @Option(help: "Ask the helpdesk server at this URL (its admin address, e.g. http://helpdesk:9090) instead of diagnosing here.")
    var server: String?
    @Option(help: "File holding the API token for --server, one of the server's api.tokens (default: $HELPDESK_API_TOKEN).")
    var tokenFile: String?
    @Option(help: "How long the request to --server may take in all, e.g. 120s or 5m.")
    var timeout = "120s"
    /// Declared only to refuse it with a reason: a token in argv shows in `ps` and shell history.
    @Option(help: .hidden) var token: String?

    func run() async throws {
        if token != nil {
            printError("--token is refused: a token on the command line shows in ps and shell history; "
                       + "use --token-file FILE or HELPDESK_API_TOKEN")
            throw ExitCode(2)
        }
        if server == nil, tokenFile != nil {
            // Without --server this would diagnose here, with a store of its own: not what was meant.
            printError("--token-file goes with --server URL")
            throw ExitCode(2)
        }
        let configuration = try global.loadConfiguration()
        let (logger, redactor) = global.bootstrapLogging(configuration, defaultLevel: .warning)
        if post, configuration.slack.botToken == nil || configuration.slack.defaultChannel == nil {
            printError("--post needs SLACK_BOT_TOKEN (or slack.bot_token_file) and slack.default_channel")
            throw ExitCode(2)
        }
        let diagnosis: Diagnosis
        if let server {
            diagnosis = try await askServer(server, redactor: redactor)
        } else {
            // The alert bot's job: decided as the alert bot's service principal, like an alert's diagnosis.
            let request = DiagnosisRequest(target: target, symptom: symptom, principal: .alertBot, via: "srebot")
            diagnosis = try await withComposition(configuration, logger: logger, redactor: redactor) { app in
                await app.engine.orchestrator.diagnose(request)
            }
        }
        try await report(diagnosis, configuration: configuration)
    }

    /// The server's diagnosis over its API, or exit 2 with a message naming the server and the status.
    private func askServer(_ server: String, redactor: Redactor) async throws -> Diagnosis {
        guard let endpoint = SrebotServerClient.endpoint(for: server) else {
            // Not echoed: a URL refused for holding credentials would print them.
            printError("--server: expected an http:// or https:// URL such as http://helpdesk:9090, "
                       + "without credentials, query or fragment")
            throw ExitCode(2)
        }
        guard let deadline = Duration(parsing: timeout), deadline > .zero, deadline <= .seconds(3600) else {
            printError("--timeout \(timeout): expected a duration such as 120s or 5m, at most 1h")
            throw ExitCode(2)
        }
        let token = try apiToken()
        redactor.register([token])
        do {
            return try await AsyncHTTPTransport.withOwnClient(connectTimeout: Self.connectTimeout,
                                                              maxResponseBytes: Self.maxReplyBytes) { transport in
                let client = SrebotServerClient(server: server, endpoint: endpoint, token: token, timeout: deadline,
                                                transport: transport)
                return try await client.diagnose(target: target, symptom: symptom)
            }
        } catch let failure as SrebotServerClient.Failure {
            printError(failure.description)
            throw ExitCode(2)
        }
    }

    /// `--token-file`, else `HELPDESK_API_TOKEN`; a file's trailing newline is not part of the token.
    private func apiToken() throws -> Secret {
        if let tokenFile {
            let text: String
            do {
                text = try String(contentsOfFile: tokenFile, encoding: .utf8)
            } catch {
                printError("cannot read the API token file \(tokenFile): \(describeFileError(error))")
                throw ExitCode(2)
            }
            var value = text
            while value.last?.isNewline == true { value.removeLast() }
            guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
                printError("the API token file \(tokenFile) is empty")
                throw ExitCode(2)
            }
            return Secret(value)
        }
        if let value = ProcessInfo.processInfo.environment["HELPDESK_API_TOKEN"], !value.isEmpty {
            return Secret(value)
        }
        printError("--server needs an API token: --token-file FILE (or HELPDESK_API_TOKEN)")
        throw ExitCode(2)
    }

    /// Prints the diagnosis and posts it — the same whether it was made here or by the server —
    /// and ends with the documented exit status.
    private func report(_ diagnosis: Diagnosis, configuration: HelpdeskConfiguration) async throws {
        let couldNotDiagnose = diagnosis.tools.allSatisfy { $0.error != nil }
        if diagnosis.isHealthy && !force {
            print("\(target): healthy (\(diagnosis.tools.count) tools, no findings); bundle: \(diagnosis.bundlePath ?? "-")")
        } else if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(diagnosis), as: UTF8.self))
        } else {
            print(diagnosis.markdown, terminator: "")
            print("\nbundle: \(diagnosis.bundlePath ?? "-")")
        }
        if post, !diagnosis.isHealthy || force,
           let token = configuration.slack.botToken, let channel = configuration.slack.defaultChannel {
            let api = SlackWebAPI(baseURL: configuration.slack.apiBaseURL, token: token)
            var body = SlackViews.diagnosisForChannel(try Self.slackRenderer(configuration), diagnosis)
            if case .object(var object) = body {
                object["channel"] = .string(channel)
                body = .object(object)
            }
            switch await api.call("chat.postMessage", body) {
            case .ok: print("posted to \(channel)")
            case .rateLimited(let wait):
                printError("Slack rate-limited the post; try again in \(Int(wait.seconds)) s")
                throw ExitCode(2)
            case .transient(let why), .failed(code: let why):
                printError("could not post to Slack: \(why)")
                throw ExitCode(2)
            }
        }
        if couldNotDiagnose { throw ExitCode(2) }
        if !diagnosis.isHealthy { throw ExitCode(1) }
    }

    /// The Slack templates in force — the built-in ones with slack.templates_dir's on top — built
    /// from the configuration alone, so server mode needs no composition to post.
    private static func slackRenderer(_ configuration: HelpdeskConfiguration) throws -> SlackRenderer {
        do {
            return try SlackRenderer(templates: ContentLibrary(configuration).files(.slackTemplates))
        } catch {
            printError("the Slack templates cannot be loaded (\(error)); nothing was posted")
            throw ExitCode(2)
        }
    }
}
