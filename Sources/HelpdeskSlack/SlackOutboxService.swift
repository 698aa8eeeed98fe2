import Foundation
import HelpdeskCore
import HelpdeskHTTPClient
import HelpdeskStore
import Logging
import ServiceLifecycle

/// Sends the Slack outbox: per channel in order and about one message a second; a 429 waits its
/// `Retry-After`, 5xx and network errors back off and retry, and `ok:false` is recorded with its
/// error code. Messages in a thread go out after their root and reply in it; updates edit the root.
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
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let entries: [OutboxEntry]
            do {
                entries = try await store.slackOutbox.due(now: Date(), lease: .seconds(60), budgetPerMinute: budgetPerMinute)
            } catch {
                logger.error("cannot read the Slack outbox", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if entries.isEmpty {
                await store.slackOutbox.waitForMessages(timeout: .milliseconds(500))
                continue
            }
            let sent = await withTaskGroup(of: (String, Bool).self) { group in
                for entry in entries {
                    let wait = lastSent[entry.message.channel].map { $0 + pacing - ContinuousClock.now } ?? .zero
                    group.addTask {
                        if wait > .zero { try? await Task.sleep(for: wait) }
                        return (entry.message.channel, await send(entry))
                    }
                }
                var sent: [String] = []
                for await (channel, didSend) in group where didSend { sent.append(channel) }
                return sent
            }
            for channel in sent { lastSent[channel] = ContinuousClock.now }
        }
    }

    /// Sends one message; returns whether a request went to Slack (for pacing).
    func send(_ entry: OutboxEntry) async -> Bool {
        var arguments: [String: JSONValue] = [:]
        var body = entry.message.body
        if let rendered = entry.message.rendered {
            do {
                guard let made = try await render(rendered) else {
                    try? await store.slackOutbox.markFailed(entry.id, version: entry.version, error: "nothing renders \(rendered)", now: Date())
                    return false
                }
                body = made
            } catch {
                logger.error("cannot render a Slack message; it is retried after its lease", metadata: ["error": "\(error)"])
                return false
            }
        }
        if case .object(let fields) = body { arguments = fields }
        arguments["channel"] = .string(entry.message.channel)
        let now = Date()
        switch entry.message.method {
        case .update:
            guard let ts = entry.threadTS else {
                try? await store.slackOutbox.markFailed(entry.id, version: entry.version, error: "the message to update was never posted", now: now)
                return false
            }
            arguments["ts"] = .string(ts)
        case .postMessage, .postEphemeral:
            if !entry.message.isRoot, let ts = entry.threadTS { arguments["thread_ts"] = .string(ts) }
        }
        let result = await api.call(entry.message.method.rawValue, .object(arguments))
        do {
            switch result {
            case .ok(let ts):
                try await store.slackOutbox.markSent(entry.id, version: entry.version, ts: ts, now: Date())
            case .rateLimited(let wait):
                logger.notice("Slack rate limit; waiting", metadata: ["channel": "\(entry.message.channel)", "seconds": "\(wait.seconds)"])
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
        } catch {
            logger.error("cannot record a Slack send; it is retried after its lease", metadata: ["error": "\(error)"])
        }
        return true
    }
}
