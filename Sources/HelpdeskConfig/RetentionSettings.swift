import Foundation
import HelpdeskCore

/// `retention:` — how long finished work is kept before the retention service prunes it, in small
/// batches. The audit log is never pruned (export it with `helpdesk audit export`).
public struct RetentionSettings: Sendable {
    /// Received alerts: a resolved one by the age of its resolution, a firing one once not received
    /// for this long (never while still sent); alert groups' threads and ended storms likewise.
    public var alerts: Duration = .seconds(30 * 86400)
    /// Finished jobs (done or dead) and their runs.
    public var jobs: Duration = .seconds(14 * 86400)
    /// Slack messages already sent.
    public var outbox: Duration = .seconds(7 * 86400)
    /// How often the service looks for rows to prune.
    public var interval: Duration = .seconds(600)
    /// Rows deleted per transaction, so a prune never holds the writer for long.
    public var batchSize = 500

    public init() {}

    init(_ section: ConfigSection) {
        let ages = Duration.seconds(3600) ... .seconds(3650 * 86400)
        alerts = section.duration("alerts", default: alerts, range: ages)
        jobs = section.duration("jobs", default: jobs, range: ages)
        outbox = section.duration("outbox", default: outbox, range: ages)
        interval = section.duration("interval", default: interval, range: .seconds(1) ... .seconds(86400))
        batchSize = section.int("batch_size", default: batchSize, range: 1 ... 100_000)
        section.finish()
    }
}
