import Foundation
import HelpdeskCore
import HelpdeskSlack
import HelpdeskStore
import Logging
import ServiceLifecycle

/// Ends quiet storms: every replica runs it, and the store closes each storm exactly once, queueing
/// its last digest edit and its closing summary in the same write.
public struct StormService: Service {
    let store: any Store
    let interval: Duration
    let logger: Logger

    public init(store: any Store, interval: Duration = .seconds(5), logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // One replica closes storms at a time (each would find them anyway; this saves the work).
        let turn = SingletonTurn(store: store, name: "storm-closing", duration: max(interval * 4, .seconds(60)))
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                guard try await turn.holds() else { throw CancellationError() }
                for storm in try await store.storms.closeQuiet(now: Date()) {
                    logger.notice("alert storm ended", metadata: ["storm": "\(storm)"])
                }
            } catch is CancellationError {
                // another replica holds it
            } catch {
                logger.error("cannot close quiet storms", metadata: ["error": "\(error)"])
            }
            // Wakes at shutdown: a bare sleep held the server's exit for up to `interval`.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        // Given up before the store closes, so another replica takes over now rather than at expiry.
        await turn.release()
    }
}

/// The bodies of a storm's messages, made from the stored storm when the outbox sends them; the
/// number of diagnoses the digest names is the one the storm opened with, not today's configuration.
public struct StormMessages: Sendable {
    let store: any Store
    let renderer: SlackRenderer

    public init(store: any Store, renderer: SlackRenderer) {
        self.store = store
        self.renderer = renderer
    }

    public func render(_ body: RenderedBody) async throws -> JSONValue? {
        switch body {
        case .stormDigest(let id):
            return try await store.storms.snapshot(id, groupLimit: 10).map { SlackViews.stormDigest(renderer, $0) }
        case .stormSummary(let id):
            return try await store.storms.snapshot(id, groupLimit: 30).map { SlackViews.stormSummary(renderer, $0) }
        }
    }
}
