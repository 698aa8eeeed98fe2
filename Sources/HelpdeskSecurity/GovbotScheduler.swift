import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore
import Logging
import Metrics
import ServiceLifecycle

/// Runs govbot's report on `govbot.schedule`: every 30 seconds it takes the latest slot at or before
/// now, and when that slot is newer than the progress mark `govbot.schedule` and this replica holds the
/// singleton `govbot`, reports over the `window` ending at the slot, writes the JSON to `json_dir` (if
/// set), and in one change set queues the message, records the mark and appends a `govbot_report`
/// audit event. So a slot runs once across replicas and restarts, and slots missed while no server ran
/// are not made up for: only the latest one runs.
public struct GovbotScheduler: Service {
    /// The progress mark: the last slot reported, in epoch seconds.
    public static let progressMark = "govbot.schedule"
    /// The singleton lease's name.
    public static let singleton = BuiltInServices.governanceBot
    /// `MetricCatalog`'s `helpdesk_govbot_reports_total{outcome}`: `clean`, `findings` or `error`.
    public static let reportsMetric = MetricCatalog.govbotReports.name

    /// What one look at the schedule did.
    public enum RunResult: Sendable, Equatable {
        /// The expression has no slot before now.
        case noSlot
        /// The latest slot was reported already (here or by another replica).
        case alreadyReported(slot: Date)
        /// Another replica holds the singleton.
        case notHolder
        case reported(slot: Date, outcome: String)
        /// The report could not be made or recorded; the slot is tried again on the next look.
        case failed(slot: Date?, reason: String)
    }

    let store: any Store
    let schedule: CronSchedule
    let settings: GovbotSettings
    let reporter: GovbotReporter
    /// Where the report is posted; `nil`: not posted (the audit event and JSON file still are).
    let channel: String?
    /// The report as a message body (Block Kit `text` and `blocks`); the server renders it from its template.
    let render: @Sendable (GovbotReport) -> JSONValue
    let turn: SingletonTurn
    let interval: Duration
    let logger: Logger
    let now: @Sendable () -> Date

    public init(store: any Store, schedule: CronSchedule, settings: GovbotSettings, reporter: GovbotReporter, channel: String?,
                render: @escaping @Sendable (GovbotReport) -> JSONValue, interval: Duration = .seconds(30),
                owner: LeaseOwner = .thisProcess, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.schedule = schedule
        self.settings = settings
        self.reporter = reporter
        self.channel = channel
        self.render = render
        self.interval = interval
        // Longer than a report takes, so the lease cannot pass to another replica while one is being made.
        turn = SingletonTurn(store: store, name: Self.singleton, owner: owner, duration: .seconds(600))
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        logger.info("govbot scheduled", metadata: ["schedule": "\(schedule)", "window": "\(settings.window.compactText)",
                                                   "channel": "\(channel ?? "(none)")"])
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            _ = await runOnce()
            let pause = interval
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: pause) })) != nil else { break }
        }
        await turn.release()
    }

    /// One look at the schedule: reports the latest slot if it is due and this replica's turn.
    public func runOnce() async -> RunResult {
        let current = now()
        guard let slot = schedule.latest(atOrBefore: current) else { return .noSlot }
        let position = Int64(slot.timeIntervalSince1970)
        do {
            if try await reported(through: position) { return .alreadyReported(slot: slot) }
            guard try await turn.holds(now: current) else { return .notHolder }
            // Again under the lease: the replica that held it before may have just recorded this slot.
            if try await reported(through: position) { return .alreadyReported(slot: slot) }
        } catch {
            logger.warning("govbot skipped a look: the store does not answer", metadata: ["error": "\(error)"])
            return .failed(slot: slot, reason: "\(error)")
        }
        let from = slot.addingTimeInterval(-settings.window.seconds)
        let report: GovbotReport
        do {
            report = try await reporter.report(from: from, to: slot)
        } catch {
            Counter(label: Self.reportsMetric, dimensions: MetricCatalog.govbotReports.dimensions("error")).increment()
            logger.error("govbot could not make its report", metadata: ["slot": "\(slot.formatted(.iso8601))", "error": "\(error)"])
            return .failed(slot: slot, reason: "\(error)")
        }
        var data: [String: JSONValue] = [
            "window": .object(["from": .string(from.formatted(.iso8601)), "to": .string(slot.formatted(.iso8601))]),
            "findings": .number(Double(report.findings.count)), "outcome": .string(report.outcome),
            "slot": .number(Double(position)), "schedule": .string(schedule.expression),
        ]
        if let folder = settings.jsonDirectory {
            do {
                data["json_file"] = .string(try GovbotFiles.writeScheduled(report, into: folder, slot: slot))
            } catch {
                // The message and the record still go out; the file is what is missing, and the event says so.
                logger.error("govbot could not write its JSON", metadata: ["folder": "\(folder)", "error": "\(describeFileError(error))"])
                data["json_error"] = .string(describeFileError(error))
            }
        }
        var changes = ChangeSet(audit: [AuditDraft(kind: "govbot_report", principal: BuiltInServices.governanceBot, target: channel,
                                                   data: .object(data))])
        if let channel {
            changes.slackMessages = [OutboxMessage(channel: channel, body: render(report), onceKey: "govbot:\(position)")]
        }
        changes.progress = [ProgressMark(name: Self.progressMark, position: position)]
        do {
            try await store.apply(changes)
        } catch {
            Counter(label: Self.reportsMetric, dimensions: MetricCatalog.govbotReports.dimensions("error")).increment()
            logger.error("govbot could not record its report", metadata: ["slot": "\(slot.formatted(.iso8601))", "error": "\(error)"])
            return .failed(slot: slot, reason: "\(error)")
        }
        Counter(label: Self.reportsMetric, dimensions: MetricCatalog.govbotReports.dimensions(report.outcome)).increment()
        logger.info("govbot reported", metadata: ["slot": "\(slot.formatted(.iso8601))", "findings": "\(report.findings.count)"])
        return .reported(slot: slot, outcome: report.outcome)
    }

    private func reported(through position: Int64) async throws -> Bool {
        guard let done = try await store.progress.position(Self.progressMark) else { return false }
        return done >= position
    }
}
