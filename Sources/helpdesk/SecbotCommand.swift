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
            security_detection audit event, and its message waits in the store's outbox for a running server to send. \
            With --once it reads the log to its end, prints each detection as a line and exits 0 (1 when another \
            process holds the secbot lease); without, it follows the log until SIGTERM or SIGINT, while it holds the \
            lease. --once --dry-run is a preview: it reads from the mark and writes nothing, so it needs no lease and \
            hides nothing from the secbot that reports.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Read the log to its end once, print each detection as a line, and exit.") var once = false
    @Flag(help: """
        Only log and print detections: no incident, message or audit event. With --once, a preview that writes nothing; \
        without, it follows the log under the lease and moves secbot's position on, as secbot.dry_run does.
        """)
    var dryRun = false

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let (logger, redactor) = global.bootstrapLogging(configuration, defaultLevel: once ? Logger.Level.warning : nil)
        try await withComposition(configuration, logger: logger, redactor: redactor) { app in
            let service: SecbotService
            do {
                service = try app.secbotService(dryRun: dryRun, preview: once && dryRun)
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            guard once else {
                try await service.runUntilSignalled(logger: logger)
                return
            }
            if dryRun {
                // A preview: it writes nothing, so it may read beside the secbot that holds the lease.
                var follower = try await service.follower()
                while true {
                    let pass = try await follower.pass()
                    for detection in pass.detections { print(redactor.redact(detection.line)) }
                    if pass.caughtUp { return }
                }
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
                    // Renewed between batches: a long read must not let a server's secbot take over meanwhile.
                    guard try await turn.holds() else {
                        printError("the secbot lease was taken over; stopping (the mark is where the last batch left it)")
                        throw ExitCode(1)
                    }
                }
            } catch let error as ExitCode {
                await turn.release()
                throw error
            } catch {
                await turn.release()
                let mark = (try? await app.store.progress.position(SecbotFollower.positionMark)).flatMap { $0 } ?? 0
                printError("cannot follow the audit log: \(error); secbot's position stays at seq \(mark)")
                throw ExitCode(2)
            }
            await turn.release()
        }
    }
}
