import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskIncidents
import HelpdeskStore
import Logging
import Metrics

/// How secbot is set up: its settings, where its messages go and where bundles are kept.
public struct SecbotOptions: Sendable {
    public var settings: SecbotSettings
    /// The security channel; `nil` posts nothing (the incident and the audit event are still written).
    public var channel: String?
    /// Where bundles are written; `nil` keeps them in the store (as diagnoses do on PostgreSQL).
    public var bundleDirectory: String?
    /// Events read per pass.
    public var batchSize: Int
    /// A preview (`helpdesk secbot --once --dry-run`): reads from the mark and writes nothing at all, not
    /// even the mark, so it hides nothing from the follower that reports (and needs no lease).
    public var preview: Bool

    public init(settings: SecbotSettings, channel: String?, bundleDirectory: String?, batchSize: Int = 500, preview: Bool = false) {
        self.settings = settings
        self.channel = channel
        self.bundleDirectory = bundleDirectory
        self.batchSize = max(1, batchSize)
        self.preview = preview
    }
}

/// What one pass over the log did.
public struct SecbotPass: Sendable {
    /// Detections reported (or, in dry-run, logged) in this pass; those in cooldown are not here.
    public var detections: [Detection]
    public var examined: Int
    /// Whether the pass reached the end of the log (fewer events than a batch were left).
    public var caughtUp: Bool
}

/// Follows the audit log from secbot's progress mark (`secbot.position`): each ``pass(now:)`` examines the
/// next batch and commits what it reports together with the position, so after a crash or restart it
/// resumes exactly there — nothing skipped, nothing reported twice. Its rolling windows are warmed from
/// the events before the mark when it starts.
public struct SecbotFollower: Sendable {
    public static let positionMark = "secbot.position"
    /// Messages posted in the current hour, across replicas: `hour since 1970 × 10,000 + count`, so one
    /// row only moves forward.
    public static let postedMark = "secbot.posted"

    let store: any Store
    let options: SecbotOptions
    let render: @Sendable (SecbotMessageView) -> JSONValue
    let redactor: Redactor
    let logger: Logger
    private var detector: SecbotDetector
    /// The last seq examined and committed.
    public private(set) var position: Int64
    /// When each `kind:subject` was last reported by this process (dry-run writes no audit event to derive it from).
    private var reported: [String: Date] = [:]
    private var lastVerify = Date.distantPast
    private var reportedBreak: Int64?

    /// Reads the mark and warms the rolling windows with the events of the last `max(denials_window, 1m)`
    /// before it, reporting nothing.
    public static func start(store: any Store, directory: UserDirectory, options: SecbotOptions, redactor: Redactor, logger: Logger,
                             render: @escaping @Sendable (SecbotMessageView) -> JSONValue) async throws -> SecbotFollower {
        let position = try await store.progress.position(positionMark) ?? 0
        var detector = SecbotDetector(settings: options.settings, store: store, directory: directory)
        if position > 0, let head = try await store.audit.events(afterSeq: position - 1, limit: 1).first, head.seq == position {
            detector.resume(after: AuditHead(seq: head.seq, hash: head.hash))
            let span = max(options.settings.denialsWindow, .seconds(60)).seconds
            var page = try await store.audit.events(since: head.at.addingTimeInterval(-span), limit: options.batchSize)
            while !page.isEmpty {
                for event in page where event.seq <= position { detector.warm(event) }
                guard let last = page.last, last.seq < position, page.count == options.batchSize else { break }
                page = try await store.audit.events(afterSeq: last.seq, limit: options.batchSize)
            }
        }
        return SecbotFollower(store: store, options: options, render: render, redactor: redactor, logger: logger, detector: detector,
                              position: position)
    }

    private init(store: any Store, options: SecbotOptions, render: @escaping @Sendable (SecbotMessageView) -> JSONValue, redactor: Redactor,
                 logger: Logger, detector: SecbotDetector, position: Int64) {
        self.store = store
        self.options = options
        self.render = render
        self.redactor = redactor
        self.logger = logger
        self.detector = detector
        self.position = position
    }

    /// Examines the next batch and reports what it finds. A failure leaves the mark where the last
    /// commit put it: start a new follower then (its detector has read past the mark).
    public mutating func pass(now: Date = Date()) async throws -> SecbotPass {
        if let cut = try await rewindIfTheLogWasCut(now: now) {
            return SecbotPass(detections: [cut], examined: 0, caughtUp: false)
        }
        let events = try await store.audit.events(afterSeq: position, limit: options.batchSize)
        var found: [(detection: Detection, seq: Int64)] = []
        for event in events {
            for detection in try await detector.examine(event) { found.append((detection, event.seq)) }
        }
        let last = events.last?.seq ?? position
        for entry in found where entry.detection.kind == .hashMismatch { reportedBreak = entry.detection.events.first?.seq }
        if let broken = try await verifyWhenDue(now: now, found: found.map { $0.detection }) { found.append((broken, last)) }
        var reports: [(detection: Detection, seq: Int64)] = []
        var batchTargets: Set<String> = []
        for entry in found {
            // Once per kind and subject in a batch, and not again within the cooldown.
            guard batchTargets.insert(entry.detection.target).inserted else { continue }
            // Every widening reload is its own change of policy: none hides behind an earlier one.
            if entry.detection.kind != .policyWidened, try await inCooldown(entry.detection, now: now) { continue }
            reports.append(entry)
        }
        for (index, entry) in reports.enumerated() {
            // The last report carries the batch's end; earlier ones their own event (the one before it when
            // the next report is about the same event), so a crash between two reports re-examines only
            // what was not committed, and what was is in cooldown.
            var markAt = last
            if index + 1 < reports.count { markAt = reports[index + 1].seq == entry.seq ? entry.seq - 1 : entry.seq }
            let mark = ProgressMark(name: Self.positionMark, position: markAt, expected: position)
            try await report(entry.detection, mark: mark, now: now)
            position = mark.position
        }
        if position != last {
            if !options.preview {
                try await store.apply(ChangeSet(progress: [ProgressMark(name: Self.positionMark, position: last, expected: position)]))
            }
            position = last
        }
        Gauge(label: MetricCatalog.secbotPosition.name).record(position)
        return SecbotPass(detections: reports.map { $0.detection }, examined: events.count, caughtUp: events.count < options.batchSize)
    }

    /// Whether a detection of the same kind about the same subject was reported within the cooldown:
    /// by this process, or by any (the newest `security_detection` event with its target).
    private func inCooldown(_ detection: Detection, now: Date) async throws -> Bool {
        let cooldown = options.settings.cooldown.seconds
        if let at = reported[detection.target], now.timeIntervalSince(at) < cooldown { return true }
        let newest = try await store.audit.latest(AuditFilter(kind: "security_detection", target: detection.target), limit: 1).first
        return newest.map { now.timeIntervalSince($0.at) < cooldown } ?? false
    }

    /// The messages posted in `now`'s clock hour, by every replica (``postedMark``).
    private func postedThisHour(now: Date) async throws -> (hour: Int64, count: Int) {
        let hour = Int64(now.timeIntervalSince1970 / 3600)
        let mark = try await store.progress.position(Self.postedMark) ?? 0
        return (hour, mark / 10_000 == hour ? Int(mark % 10_000) : 0)
    }

    /// When the log now ends before the mark (its tail was deleted), events appended since reuse seqs
    /// at or below it and would never be read: report it, and move the mark back to the log's end.
    private mutating func rewindIfTheLogWasCut(now: Date) async throws -> Detection? {
        guard position > 0 else { return nil }
        let head = try await store.audit.head()
        let end = head?.seq ?? 0
        guard end < position else { return nil }
        let detection = Detection(kind: .hashMismatch, subject: Detection.chainSubject,
                                  summary: "the audit log ends at seq \(end), but secbot had examined it up to seq \(position): "
                                      + "events were removed", events: [])
        let mark = ProgressMark(name: Self.positionMark, position: end, expected: position)
        try await report(detection, mark: mark, now: now)
        position = end
        detector.resume(after: head)
        reportedBreak = nil
        return detection
    }

    /// One detection: logged in dry-run, else its change set committed with `mark`.
    private mutating func report(_ detection: Detection, mark: ProgressMark, now: Date) async throws {
        let report = SecbotReport(detection: detection, incidentID: IncidentBundle.newID(at: now), now: now, redactor: redactor)
        reported[detection.target] = now
        let metadata: Logger.Metadata = ["kind": "\(detection.kind.rawValue)", "subject": "\(SecbotText.name(detection.subject))",
                                         "summary": "\(report.summary)"]
        if options.preview || options.settings.dryRun {
            logger.warning("security detection (dry run: not reported)", metadata: metadata)
            if !options.preview { try await store.apply(ChangeSet(progress: [mark])) }
            return
        }
        // However many subjects an attacker makes up, the channel gets at most `max_messages_per_hour`
        // messages; past that a detection is still an incident and an audit event, and logged. A
        // critical one (a tampered chain, an unapproved write) is always posted.
        var posted = try await postedThisHour(now: now)
        var channel = options.channel
        if channel != nil, detection.kind.severity != "critical", posted.count >= options.settings.maxMessagesPerHour {
            channel = nil
            logger.warning("secbot's messages this hour are used up: the detection is recorded, not posted",
                           metadata: ["max_messages_per_hour": "\(options.settings.maxMessagesPerHour)"])
        }
        var changes = try await report.changes(channel: channel, render: render, bundleDirectory: options.bundleDirectory, position: mark)
        if channel != nil {
            posted.count += 1
            changes.progress.append(ProgressMark(name: Self.postedMark, position: posted.hour * 10_000 + Int64(min(posted.count, 9_999))))
        }
        try await store.apply(changes)
        logger.warning("security detection", metadata: metadata.merging(["incident_id": "\(report.incidentID)"]) { $1 })
        Counter(label: MetricCatalog.secbotDetections.name, dimensions: MetricCatalog.secbotDetections.dimensions(detection.kind.rawValue)).increment()
        if detection.kind == .hashMismatch { Gauge(label: MetricCatalog.auditChainOK.name).record(0) }
    }

    /// Walks the whole chain every `verify_interval` (an edit behind the mark is not read again): a break
    /// not reported yet, by this walk or by the check of each event read, is a `hash_mismatch`.
    private mutating func verifyWhenDue(now: Date, found: [Detection]) async throws -> Detection? {
        guard now.timeIntervalSince(lastVerify) >= options.settings.verifyInterval.seconds else { return nil }
        lastVerify = now
        let verification = try await store.audit.verify()
        guard !verification.ok else { return nil }
        let seq = verification.brokenAt ?? verification.checkpoint?.seq ?? -1
        let seenInBatch = found.contains { $0.kind == .hashMismatch && $0.events.contains { $0.seq == seq } }
        guard seq != reportedBreak, !seenInBatch else { return nil }
        reportedBreak = seq
        var events: [AuditEvent] = []
        if let id = verification.brokenID, let event = try await store.audit.event(id: id) { events = [event] }
        let problem = verification.problem ?? verification.checkpoint?.message ?? "the chain does not verify"
        return Detection(kind: .hashMismatch, subject: Detection.chainSubject,
                         summary: "audit verify: \(seq >= 0 ? "event \(seq): " : "")\(problem)", events: events)
    }
}
