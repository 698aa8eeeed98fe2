import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskMail
import HelpdeskServer
import Logging

/// For a Postfix pipe transport: one message on standard input.
struct MailIngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail-ingest",
        abstract: "Read one approval reply (raw MIME) from standard input and decide with it.",
        discussion: "Exit status: 0 when the message was processed (decided, or refused and audited), 75 (EX_TEMPFAIL) when it could not be, so the MTA tries again.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The envelope recipient (Postfix: ${recipient}), when the headers may not show it.") var recipient: String?

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let (logger, redactor) = global.bootstrapLogging(configuration, defaultLevel: .warning)
        let input = FileHandle.standardInput.readDataToEndOfFile()
        guard !input.isEmpty else {
            printError("no message on standard input")
            throw ExitCode(75)
        }
        do {
            try await withComposition(configuration, logger: logger, redactor: redactor) { app in
                guard let processor = app.mailReplies else {
                    printError("approval replies by email are off: set smtp.reply_domain and approvals.link_key")
                    throw ExitCode(75)
                }
                switch await processor.process(raw: String(decoding: input, as: UTF8.self), envelopeRecipient: recipient) {
                case .decided(let message): print("decided: \(message)")
                case .rejected(let why): print("refused: \(why)")
                }
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("\(error)")
            throw ExitCode(75)
        }
    }
}
