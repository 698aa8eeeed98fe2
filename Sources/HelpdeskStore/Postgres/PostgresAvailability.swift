import Foundation
import HelpdeskPostgres
import Logging
import PostgresNIO
import Synchronization

/// Watches whether PostgreSQL answers, on a connection of its own (so a busy pool is not mistaken
/// for an outage): a `SELECT 1` every second. While it fails, store operations fail at once with
/// its reason — the server answers 503, Slack hears "cannot record" within its 3 s — and the first
/// probe that succeeds lets them through again.
final class PostgresAvailability: Sendable {
    static let interval = Duration.seconds(1)
    static let probeTimeout = Duration.seconds(2)

    /// Shared with the probe task (a Mutex cannot be captured).
    private final class Verdict: Sendable {
        let outage = Mutex<String?>(nil)
    }

    private let verdict = Verdict()
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(endpoint: PostgresEndpoint, logger: Logger) {
        let probe = Task { [verdict] in
            var connection: PostgresConnection?
            while !Task.isCancelled {
                do {
                    // Connected outside the deadline's task group: a connection dropped there unclosed is a leak
                    // (and an assertion in postgres-nio); the connect timeout bounds it instead.
                    if connection == nil || connection?.isClosed == true {
                        var configuration = try endpoint.connectionConfiguration()
                        configuration.options.connectTimeout = .seconds(2)
                        connection = try await PostgresConnection.connect(configuration: configuration, id: -1, logger: logger)
                    }
                    guard let live = connection else { continue }
                    // postgres-nio does not cancel a query: a server that stopped answering (a half-open
                    // connection) is noticed by closing the connection under the query.
                    let closer = Task {
                        try await Task.sleep(for: Self.probeTimeout)
                        try? await live.close()
                    }
                    defer { closer.cancel() }
                    // A standby after a failover answers, but cannot record anything.
                    let readOnly = try await live.row("SELECT pg_is_in_recovery()", logger)?[0].decode(Bool.self) ?? false
                    if readOnly { throw StoreError.unavailable(reason: "PostgreSQL at \(endpoint.displayName) is a read-only standby") }
                    let recovered = verdict.outage.withLock { outage in defer { outage = nil }; return outage != nil }
                    if recovered { logger.notice("the store answers again", metadata: ["store": "\(endpoint.displayName)"]) }
                } catch {
                    if let connection { try? await connection.close() }
                    connection = nil
                    let reason = PostgresStore.describe(error)
                    let began = verdict.outage.withLock { outage in defer { outage = reason }; return outage == nil }
                    if began { logger.error("the store does not answer; refusing what cannot be recorded", metadata: ["reason": "\(reason)"]) }
                }
                try? await Task.sleep(for: Self.interval)
            }
            if let connection { try? await connection.close() }
        }
        task.withLock { $0 = probe }
    }

    /// Why PostgreSQL is considered away, or `nil` while it answers.
    var outage: String? { verdict.outage.withLock { $0 } }

    func stop() {
        task.withLock { $0?.cancel() }
    }
}
