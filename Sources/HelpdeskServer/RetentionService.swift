import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore
import Logging
import ServiceLifecycle

/// Prunes alerts, finished jobs and sent Slack messages older than `retention:` says, in small
/// batches with a pause between them, so the webhook's writes are never queued behind a long
/// delete. The audit log is never pruned.
public struct RetentionService: Service {
    let store: any Store
    let settings: RetentionSettings
    let logger: Logger
    let now: @Sendable () -> Date

    public init(store: any Store, settings: RetentionSettings, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        // A first pass soon after start, then every interval; cancellation (shutdown) ends the sleep.
        var wait = Duration.seconds(5)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // Shutdown cancels the sleep.
            let pause = wait
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: pause) })) != nil else { return }
            wait = settings.interval
            _ = await pruneOnce()
        }
    }

    /// One full pass: every kind, batch after batch until none is left. Returns the rows deleted per kind.
    public func pruneOnce() async -> [RetentionKind: Int] {
        var deleted: [RetentionKind: Int] = [:]
        // One replica prunes at a time; a pass renews the lease between kinds and gives it up at the end.
        let turn = SingletonTurn(store: store, name: "retention", duration: .seconds(300))
        for kind in RetentionKind.allCases {
            do {
                guard try await turn.holds() else { break }
            } catch {
                logger.warning("retention skipped: the store does not answer", metadata: ["error": "\(error)"])
                break
            }
            let cutoff = now().addingTimeInterval(-age(of: kind).seconds)
            do {
                while !Task.isCancelled {
                    let count = try await store.retention.prune(kind, olderThan: cutoff, limit: settings.batchSize)
                    deleted[kind, default: 0] += count
                    if count < settings.batchSize { break }
                    // Let other writers in between batches.
                    try await Task.sleep(for: .milliseconds(20))
                }
            } catch {
                logger.warning("retention could not prune", metadata: ["kind": "\(kind.rawValue)", "error": "\(error)"])
            }
        }
        await turn.release()
        let total = deleted.values.reduce(0, +)
        if total > 0 {
            logger.info("retention pruned old rows", metadata: deleted.reduce(into: [:]) { $0[$1.key.rawValue] = "\($1.value)" })
        }
        return deleted
    }

    func age(of kind: RetentionKind) -> Duration {
        switch kind {
        case .alerts: settings.alerts
        case .jobs: settings.jobs
        case .outbox: settings.outbox
        }
    }
}
