import ArgumentParser
import Foundation
import HelpdeskAgents
import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskCore
import Logging
import HelpdeskOrchestrator
import HelpdeskServer
import HelpdeskSlack

struct SrebotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "srebot",
        abstract: "One-shot check of a target for a Kubernetes Job or CronJob: diagnose, print, optionally post to Slack.",
        discussion: "Exit status: 0 healthy, 1 findings, 2 error (the target could not be diagnosed, or posting failed).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The inventory target.") var target: String
    @Option(help: "What is wrong, in words; picks the runbooks.") var symptom: String?
    @Flag(help: "Print (and post) the full diagnosis even when the target is healthy.") var force = false
    @Flag(help: "Post the diagnosis to slack.default_channel (needs SLACK_BOT_TOKEN).") var post = false
    @Flag(help: "Print the diagnosis as JSON.") var json = false

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let (logger, redactor) = global.bootstrapLogging(configuration, defaultLevel: .warning)
        if post, configuration.slack.botToken == nil || configuration.slack.defaultChannel == nil {
            printError("--post needs SLACK_BOT_TOKEN (or slack.bot_token_file) and slack.default_channel")
            throw ExitCode(2)
        }
        // The alert bot's job: decided as the alert bot's service principal, like an alert's diagnosis.
        let request = DiagnosisRequest(target: target, symptom: symptom, principal: .alertBot, via: "srebot")
        let (diagnosis, renderer) = try await withComposition(configuration, logger: logger, redactor: redactor) {
            app -> (Diagnosis, SlackRenderer?) in
            (await app.engine.orchestrator.diagnose(request), app.srebot.renderer)
        }
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
        if post, !diagnosis.isHealthy || force, let token = configuration.slack.botToken, let channel = configuration.slack.defaultChannel {
            // The composition's renderer: the built-in templates with slack.templates_dir's on top.
            guard let renderer else {
                printError("the Slack templates cannot be loaded (the log above says why); nothing was posted")
                throw ExitCode(2)
            }
            let api = SlackWebAPI(baseURL: configuration.slack.apiBaseURL, token: token)
            var body = SlackViews.diagnosisForChannel(renderer, diagnosis)
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
}
