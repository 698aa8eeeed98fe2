import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskSecurity
import HelpdeskServer
import HelpdeskStore
import Logging

/// `helpdesk secbot`: the security responder on its own (not to be confused with `srebot`, the alert bot's one-shot check).
struct SecbotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secbot",
        abstract: "Follow the audit log and report what looks like abuse or tampering (secbot), as `serve` does with secbot.enabled.",
        discussion: """
            Resumes from the last event it examined (the store's secbot.position), so it reports each detection once \
            whichever process ran it before. Each detection becomes an incident, a message in secbot.channel and a \
            security_detection audit event. With --once it reads the log to its end, prints each detection as a line \
            and exits 0; without, it follows the log until SIGTERM or SIGINT. Runs only while it holds the secbot lease.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Read the log to its end once, print each detection as a line, and exit.") var once = false
    @Flag(help: "Only log and print detections: no incident, message or audit event (the position still advances).")
    var dryRun = false

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let (logger, redactor) = global.bootstrapLogging(configuration, defaultLevel: once ? Logger.Level.warning : nil)
        try await withComposition(configuration, logger: logger, redactor: redactor) { app in
            let service: SecbotService
            do {
                service = try app.secbotService(dryRun: dryRun)
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            guard once else {
                try await service.runUntilSignalled(logger: logger)
                return
            }
            // One process at a time follows the log: a server running secbot holds the lease.
            let turn = SingletonTurn(store: app.store, name: SecbotService.leaseName)
            guard try await turn.holds() else {
                printError("another process holds the secbot lease (a server with secbot.enabled); try again when it stops")
                throw ExitCode(1)
            }
            do {
                var follower = try await service.follower()
                while true {
                    let pass = try await follower.pass()
                    for detection in pass.detections { print(redactor.redact(detection.line)) }
                    if pass.caughtUp { break }
                }
            } catch {
                await turn.release()
                throw error
            }
            await turn.release()
        }
    }
}
