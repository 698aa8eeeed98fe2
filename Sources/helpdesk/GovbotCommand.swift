import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskSecurity
import HelpdeskServer
import HelpdeskStore
import Logging

struct GovbotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "govbot",
        abstract: "Compliance report over the audit log: decisions, approvals, destructive actions, rules, people, chain, detections.",
        discussion: """
            Prints the report as text (or JSON with --json -). Exit status: 0 clean, 1 findings (a broken audit chain, a \
            secbot detection, a destructive action without an approval, someone acting who maps to no user, a rule that \
            matched every decision, an expired approval request), 2 error (bad arguments, a configuration that does not \
            load, a store that does not answer). Dead rules and idle users are notes: they do not make it 1.

            --post queues the report as a Block Kit message for govbot.channel (else slack.default_channel, else the web \
            channel) in the store's outbox, and records a govbot_report audit event: a running `helpdesk serve` on the \
            same store delivers it; this command does not talk to Slack. The server also reports on govbot.schedule by itself.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "How far back the report looks from now: 90m, 24h, 7d.") var since = "24h"
    @Flag(help: "Queue the report for the govbot channel; a running server's outbox sends it.") var post = false
    @Option(help: ArgumentHelp("Also write the report as JSON (pretty, sorted keys) to FILE, owner-only; - prints JSON instead of text.",
                               valueName: "FILE"))
    var json: String?

    func run() async throws {
        guard let window = Duration(parsing: since), window > .zero else {
            printError("--since: expected a duration such as 90m, 24h or 7d, got \"\(since)\"")
            throw ExitCode(2)
        }
        let configuration = try global.loadConfiguration()
        let (logger, redactor) = global.bootstrapLogging(configuration, defaultLevel: .warning)
        let to = Date()
        let from = to.addingTimeInterval(-window.seconds)
        let report: GovbotReport
        do {
            report = try await withComposition(configuration, logger: logger, redactor: redactor) { app in
                let report = try await app.govbotReporter.report(from: from, to: to)
                if post { try await queue(report, app: app, window: window) }
                return report
            }
        } catch is ExitCode {
            // Opening the store or building the composition failed, and said why: an error, whatever its status.
            throw ExitCode(2)
        } catch {
            printError("govbot: \(error)")
            throw ExitCode(2)
        }
        if json == "-" {
            print(String(decoding: try GovbotReport.encoder.encode(report), as: UTF8.self))
        } else {
            print(GovbotText.render(report), terminator: "")
            if let json {
                do {
                    try GovbotFiles.write(report, to: json)
                } catch {
                    printError("--json: cannot write \(json): \(describeFileError(error))")
                    throw ExitCode(2)
                }
            }
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    /// The message and its audit event in one change set, for the server's outbox to send.
    private func queue(_ report: GovbotReport, app: Composition, window: Duration) async throws {
        guard let channel = app.govbotChannel else {
            printError("--post: nowhere to post: set govbot.channel or slack.default_channel (with SLACK_BOT_TOKEN), or turn web.enabled on")
            throw ExitCode(2)
        }
        let event = AuditDraft(kind: "govbot_report", principal: BuiltInServices.governanceBot, target: channel, data: .object([
            "window": .object(["from": .string(report.window.from.formatted(.iso8601)), "to": .string(report.window.to.formatted(.iso8601))]),
            "findings": .number(Double(report.findings.count)), "outcome": .string(report.outcome), "trigger": .string("command"),
            "since": .string(window.compactText),
        ]))
        try await app.store.apply(ChangeSet(audit: [event], slackMessages: [OutboxMessage(channel: channel, body: app.govbotMessage(report))]))
        printError("queued for \(channel); a running helpdesk serve on this store sends it")
    }
}
