import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore
import Logging
import ServiceLifecycle

/// secbot inside `helpdesk serve` (`secbot.enabled`): every `poll_interval`, on the replica holding
/// the `secbot` lease, a ``SecbotFollower`` pass over the new audit events — until the log is read to
/// its end. Another replica takes over from the committed mark when the holder stops.
public struct SecbotService: Service {
    public static let leaseName = "secbot"

    let store: any Store
    let directory: UserDirectory
    let options: SecbotOptions
    let redactor: Redactor
    let logger: Logger
    let render: @Sendable (SecbotMessageView) -> JSONValue

    /// - Parameter render: the Web API body of the security channel's message (the server renders the
    ///   `security_detection` template).
    public init(store: any Store, directory: UserDirectory, options: SecbotOptions, redactor: Redactor, logger: Logger,
                render: @escaping @Sendable (SecbotMessageView) -> JSONValue) {
        self.store = store
        self.directory = directory
        self.options = options
        self.redactor = redactor
        self.logger = logger
        self.render = render
    }

    /// A follower from the committed mark, warmed up.
    public func follower() async throws -> SecbotFollower {
        try await SecbotFollower.start(store: store, directory: directory, options: options, redactor: redactor, logger: logger,
                                       render: render)
    }

    public func run() async throws {
        let interval = options.settings.pollInterval
        let turn = SingletonTurn(store: store, name: Self.leaseName, duration: max(interval * 4, .seconds(60)))
        if options.settings.dryRun { logger.notice("secbot is in dry-run mode: detections are only logged") }
        var current: SecbotFollower?
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                if try await turn.holds() {
                    var follower: SecbotFollower
                    if let existing = current { follower = existing } else { follower = try await self.follower() }
                    current = nil
                    // To the end of the log, one batch at a time, renewing the lease between batches.
                    while true {
                        let pass = try await follower.pass()
                        current = follower
                        if pass.caughtUp || Task.isShuttingDownGracefully || Task.isCancelled { break }
                        guard try await turn.holds() else {
                            current = nil
                            break
                        }
                    }
                } else {
                    // Another replica follows the log now; when this one holds the lease again it starts
                    // from the mark that replica committed.
                    current = nil
                }
            } catch {
                // The mark is where the last commit left it; the next round starts a fresh follower from it.
                current = nil
                logger.error("secbot cannot follow the audit log", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        await turn.release()
    }
}
