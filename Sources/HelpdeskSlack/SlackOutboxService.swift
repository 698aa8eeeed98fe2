import Foundation
import HelpdeskCore
import HelpdeskHTTPClient
import HelpdeskStore
import Logging
import Tracing
import ServiceLifecycle

/// Sends the Slack outbox: in order per thread, after the thread's root, and about one message a
/// second per channel; a 429 pauses its whole channel for its `Retry-After` (other channels keep
/// going), 5xx and network errors back off and retry that message, and `ok:false` is recorded with
/// its error code. Replies go into their root's thread; updates edit the root.
public struct SlackOutboxService: Service {
    let store: any Store
    let api: SlackWebAPI
    let pacing: Duration
    let maxAttempts: Int
    let budgetPerMinute: Int
    /// Bodies made from stored state when they are sent (a storm's digest and summary).
    let render: @Sendable (RenderedBody) async throws -> JSONValue?
    let logger: Logger

    public init(store: any Store, api: SlackWebAPI, pacing: Duration = .seconds(1), maxAttempts: Int = 8, budgetPerMinute: Int = 20,
                render: @escaping @Sendable (RenderedBody) async throws -> JSONValue? = { _ in nil }, logger: Logger) {
        self.store = store
        self.api = api
        self.pacing = pacing
        self.maxAttempts = maxAttempts
        self.budgetPerMinute = budgetPerMinute
        self.render = render
        self.logger = logger
    }

    public func run() async throws {
        var lastSent: [String: ContinuousClock.Instant] = [:]
        // Channels Slack rate-limited, until their Retry-After is over: their messages stay queued
        // (each also carries its own retry time, so a restart still waits), other channels go on.
        var pausedUntil: [String: ContinuousClock.Instant] = [:]
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let now = ContinuousClock.now
            pausedUntil = pausedUntil.filter { $0.value > now }
            let entries: [OutboxEntry]
            let leasedAt = ContinuousClock.now
            do {
                entries = try await store.slackOutbox.due(now: Date(), lease: Self.lease, budgetPerMinute: budgetPerMinute,
                                                          skipping: Set(pausedUntil.keys))
            } catch {
                logger.error("cannot read the Slack outbox", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if entries.isEmpty {
                // Woken by new messages, or when the first pause ends.
                let nextResume = pausedUntil.values.min().map { $0 - now } ?? .milliseconds(500)
                await store.slackOutbox.waitForMessages(timeout: max(.milliseconds(10), min(.milliseconds(500), nextResume)))
                continue
            }
            let outcomes = await withTaskGroup(of: (String, SendOutcome).self) { group in
                for entry in entries {
                    let wait = lastSent[entry.message.channel].map { $0 + pacing - ContinuousClock.now } ?? .zero
                    group.addTask {
                        if wait > .zero { try? await Task.sleep(for: wait) }
                        return (entry.message.channel, await send(entry, leaseEnds: leasedAt + Self.lease))
                    }
                }
                var outcomes: [(String, SendOutcome)] = []
                for await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            for (channel, outcome) in outcomes {
                switch outcome {
                case .notSent:
                    break
                case .sent:
                    lastSent[channel] = ContinuousClock.now
                case .rateLimited(let wait):
                    lastSent[channel] = ContinuousClock.now
                    pausedUntil[channel] = ContinuousClock.now + wait
                }
            }
        }
    }

    /// What one attempt came to, for pacing and pausing its channel.
    enum SendOutcome: Sendable, Equatable {
        /// No request went to Slack (nothing to render, nothing to edit).
        case notSent
        /// A request went to Slack and was answered (sent, refused or failed).
        case sent
        /// Slack answered 429: the channel waits this long.
        case rateLimited(Duration)
    }

    /// How long a leased message is this process's to send and record.
    static let lease = Duration.seconds(60)

    /// Sends one message and records what came of it.
    func send(_ entry: OutboxEntry, leaseEnds: ContinuousClock.Instant = .now + lease) async -> SendOutcome {
        var arguments: [String: JSONValue] = [:]
        var body = entry.message.body
        if let rendered = entry.message.rendered {
            do {
                guard let made = try await render(rendered) else {
                    try? await store.slackOutbox.markFailed(entry.id, version: entry.version, error: "nothing renders \(rendered)", now: Date())
                    return .notSent
                }
                body = made
            } catch {
                logger.error("cannot render a Slack message; it is retried after its lease", metadata: ["error": "\(error)"])
                return .notSent
            }
        }
        if case .object(let fields) = body { arguments = fields }
        arguments["channel"] = .string(entry.message.channel)
        let now = Date()
        switch entry.message.method {
        case .update:
            guard let ts = entry.threadTS else {
                try? await store.slackOutbox.markFailed(entry.id, version: entry.version, error: "the message to update was never posted", now: now)
                return .notSent
            }
            arguments["ts"] = .string(ts)
        case .postMessage, .postEphemeral:
            if !entry.message.isRoot, let ts = entry.threadTS { arguments["thread_ts"] = .string(ts) }
        }
        // The post continues the trace of what queued it (a webhook, a command, a job).
        let result = await (entry.origin ?? WorkOrigin()).run {
            await withSpan("slack \(entry.message.method.rawValue)", ofKind: .client) { span in
                span.attributes["helpdesk.outbox_id"] = Int(entry.id)
                let result = await api.call(entry.message.method.rawValue, .object(arguments))
                if case .ok = result {} else { span.setStatus(SpanStatus(code: .error)) }
                return result
            }
        }
        var outcome = SendOutcome.sent
        // Slack has acted on the call: its record must reach the store, or the message is sent again
        // after its lease. A store that is briefly away (a PostgreSQL restart) is waited for — only while
        // the lease holds: after it another replica may send the message again, and a late record from
        // here would count it twice. (So an outage longer than the lease can repeat one message.)
        var delay = Duration.milliseconds(250)
        let giveUp = leaseEnds - .seconds(5)
        while true {
            do {
                try await record(result, entry: entry, outcome: &outcome)
                break
            } catch {
                let unavailable = (error as? StoreError)?.isUnavailable ?? false
                guard unavailable, ContinuousClock.now < giveUp, !Task.isCancelled, !Task.isShuttingDownGracefully else {
                    logger.error("cannot record a Slack send; it is retried after its lease", metadata: ["error": "\(error)"])
                    break
                }
                logger.warning("cannot record a Slack send yet; trying again", metadata: ["error": "\(error)", "outbox_id": "\(entry.id)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        return outcome
    }

    private func record(_ result: SlackAPIResult, entry: OutboxEntry, outcome: inout SendOutcome) async throws {
        switch result {
        case .ok(let ts):
            try await store.slackOutbox.markSent(entry.id, version: entry.version, ts: ts, now: Date())
        case .rateLimited(let wait):
            logger.notice("Slack rate limit; the channel waits",
                          metadata: ["channel": "\(entry.message.channel)", "seconds": "\(wait.seconds)"])
            outcome = .rateLimited(wait)
            try await store.slackOutbox.retry(entry.id, at: Date().addingTimeInterval(wait.seconds), error: "rate limited", countAttempt: false)
        case .transient(let why):
            if entry.attempts + 1 >= maxAttempts {
                try await store.slackOutbox.markFailed(entry.id, version: entry.version, error: why, now: Date())
                logger.error("Slack message failed for good", metadata: ["outbox_id": "\(entry.id)", "error": "\(why)"])
            } else {
                let delay = Backoff(base: .seconds(1), max: .seconds(60)).delay(afterAttempt: entry.attempts + 1, jitter: 1).seconds
                try await store.slackOutbox.retry(entry.id, at: Date().addingTimeInterval(delay), error: why, countAttempt: true)
            }
        case .failed(let code):
            try await store.slackOutbox.markFailed(entry.id, version: entry.version, error: code, now: Date())
            logger.error("Slack refused a message", metadata: ["outbox_id": "\(entry.id)", "error": "\(code)", "channel": "\(entry.message.channel)"])
        }
    }
}
