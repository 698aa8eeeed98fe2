import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskJobs
import HelpdeskOrchestrator
import HelpdeskSlack
import HelpdeskStore
import Logging
import Metrics

/// What the alert bot needs: the orchestrator, the inventory, and where to post.
public struct SrebotContext: Sendable {
    public var orchestrator: Orchestrator
    public var inventory: Infrastructure
    public var renderer: SlackRenderer?
    /// Slack posts (a bot token is set): messages go to the configured Slack channels.
    public var slackEnabled: Bool
    /// The web channel is on: what has no Slack channel to go to is posted there.
    public var webChannel: Bool
    public var store: any Store
    public var cooldown: Duration
    /// Bounds the diagnoses of alerts running at once.
    public var diagnoses: AsyncSemaphore
    public var targetLabels: [String]

    public init(orchestrator: Orchestrator, inventory: Infrastructure, renderer: SlackRenderer?, slackEnabled: Bool, webChannel: Bool = false,
                store: any Store, cooldown: Duration = .seconds(600), maxConcurrentDiagnoses: Int = 2,
                targetLabels: [String] = AlertmanagerSettings().targetLabels) {
        self.webChannel = webChannel
        self.targetLabels = targetLabels
        self.orchestrator = orchestrator
        self.inventory = inventory
        self.renderer = renderer
        self.slackEnabled = slackEnabled
        self.store = store
        self.cooldown = cooldown
        self.diagnoses = AsyncSemaphore(permits: maxConcurrentDiagnoses)
    }

    /// Which target and namespace an alert is about.
    public var targeting: AlertTargeting { AlertTargeting(inventory: inventory, targetLabels: targetLabels) }

    public func target(for labels: [String: String]) -> (name: String, known: Bool) { targeting.target(for: labels) }

    static func threadKey(_ groupKey: String) -> String { SlackViews.alertThreadKey(groupKey) }

    /// Where messages about alerts go: their Slack channel while Slack posts, else the web channel when it is on.
    public func postingChannel(_ slackChannel: String?) -> String? {
        if slackEnabled, let slackChannel { return slackChannel }
        return webChannel ? OutboxMessage.webChannel : nil
    }

    /// Whether alerts' threads are posted anywhere.
    var posts: Bool { renderer != nil && (slackEnabled || webChannel) }
}

/// Diagnoses a newly firing alert and posts the diagnosis in its group's thread.
public struct SrebotAlertJob: JobHandler {
    public static let kind = "srebot.alert"
    let context: SrebotContext

    public init(context: SrebotContext) {
        self.context = context
    }

    /// Every `outcome` of `helpdesk_alerts_diagnosed_total`: what became of a firing alert's job.
    public static let outcomes = ["diagnosed", "cooldown", "storm_skipped"]

    private static func count(_ outcome: String) {
        Counter(label: MetricCatalog.alertsDiagnosed.name, dimensions: MetricCatalog.alertsDiagnosed.dimensions(outcome)).increment()
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        let payload = try AlertJobPayload.decode(job)
        return try await LogCorrelation.with(.alertFingerprint, payload.fingerprint) { try await diagnose(payload, job: job, logger: logger) }
    }

    private func diagnose(_ payload: AlertJobPayload, job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        let labels = payload.labels
        let (target, _) = context.target(for: labels)
        // In a storm only its most severe alerts are diagnosed, in the storm's thread.
        var thread = SrebotContext.threadKey(payload.groupKey)
        let claim = StormDiagnosisRequest(fingerprint: payload.fingerprint, startsAt: payload.startsAt, channel: payload.channel ?? payload.stormKey,
                                          alertname: labels["alertname"] ?? "alert", severity: labels["severity"] ?? "unknown",
                                          rank: AlertIntake.rank(labels["severity"]))
        // The same alert firing again soon after: say so rather than diagnose again. Asked before a
        // place among a storm's diagnoses is claimed, and a place it was given on arrival goes back,
        // so an alert in its cooldown never uses one up.
        if let previous = try await context.store.alerts.previousEpisode(fingerprint: payload.fingerprint, before: payload.startsAt),
           Date().timeIntervalSince(previous) < context.cooldown.seconds {
            let noteThread: String?
            switch try await context.store.storms.releaseDiagnosis(claim) {
            case .calm: noteThread = thread
            case .released(let storm): noteThread = StormSnapshot.threadKey(storm)
            case .notHeld: noteThread = nil  // one of a storm's many: its digest is enough
            }
            var followUp = ChangeSet()
            if let channel = payload.channel, let noteThread, context.posts {
                // Labels come from outside: escaped, so an alertname cannot mention or link.
                let note: Mrkdwn = """
                    \(labels["alertname"] ?? "alert", limit: 200) on `\(target, limit: 200)` fired again; \
                    it was diagnosed \(formatDuration(Date().timeIntervalSince(previous))) ago, so not again yet.
                    """
                followUp.slackMessages.append(OutboxMessage(channel: channel, body: note.messageBody, threadKey: noteThread))
            }
            Self.count("cooldown")
            return JobOutcome(result: "within cooldown; not diagnosed", followUp: followUp)
        }
        switch try await context.store.storms.claimDiagnosis(claim, now: Date()) {
        case .calm:
            break
        case .chosen(let storm):
            thread = StormSnapshot.threadKey(storm)
        case .skipped(let storm):
            Self.count("storm_skipped")
            return JobOutcome(result: "not diagnosed: more severe alerts of storm \(storm) were chosen")
        case .later(let storm, let settled):
            // Asked again once the storm settles, when a more severe alert may have taken its place.
            let again = NewJob(kind: job.kind, payload: job.payload, dedupKey: "storm-settle:\(storm):\(payload.fingerprint):\(payload.startsAt)",
                               runAt: settled, maxAttempts: job.maxAttempts)
            return JobOutcome(result: "waits for storm \(storm) to settle", followUp: ChangeSet(jobs: [again]))
        }
        let diagnosis = try await context.diagnoses.withPermit {
            await context.orchestrator.diagnose(context.targeting.request(labels: labels, annotations: payload.annotations))
        }
        Self.count("diagnosed")
        logger.info("alert diagnosed", metadata: ["alert": "\(labels["alertname"] ?? "?")", "target": "\(target)", "incident_id": "\(diagnosis.incidentID)"])
        var followUp = ChangeSet()
        if let channel = payload.channel, let renderer = context.renderer, context.posts {
            followUp.slackMessages.append(OutboxMessage(channel: channel, body: SlackViews.diagnosisForChannel(renderer, diagnosis), threadKey: thread))
            // The web channel offers the bundle from the incident's page; only Slack gets it uploaded.
            if let bundle = diagnosis.bundlePath, channel != OutboxMessage.webChannel {
                followUp.jobs.append(SlackBundleUploadJob.job(bundlePath: bundle, incidentID: diagnosis.incidentID, threadKey: thread))
            }
        }
        return JobOutcome(result: "\(diagnosis.incidentID): \(diagnosis.summary)", followUp: followUp)
    }
}

/// Tells an alert's thread it resolved, and how long it lasted; edits the root when the whole group has.
public struct SrebotResolvedJob: JobHandler {
    public static let kind = "srebot.resolved"
    let context: SrebotContext

    public init(context: SrebotContext) {
        self.context = context
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        let payload = try AlertJobPayload.decode(job)
        return try await LogCorrelation.with(.alertFingerprint, payload.fingerprint) { try await resolve(payload) }
    }

    private func resolve(_ payload: AlertJobPayload) async throws -> JobOutcome {
        guard let channel = payload.channel, let renderer = context.renderer, context.posts else {
            return JobOutcome(result: "resolved (not posted: no channel)")
        }
        let labels = payload.labels
        let (target, _) = context.target(for: labels)
        let started = parseTime(payload.startsAt)
        let ended = payload.endsAt.flatMap(parseTime) ?? Date()
        let lasted = started.map { formatDuration(ended.timeIntervalSince($0)) } ?? "an unknown time"
        let key = SrebotContext.threadKey(payload.groupKey)
        let note: Mrkdwn = ":large_green_circle: \(labels["alertname"] ?? "alert", limit: 200) on `\(target, limit: 200)` resolved after \(lasted)."
        var messages = [OutboxMessage(channel: channel, body: note.messageBody, threadKey: key)]
        if payload.groupStatus == "resolved" {
            let root = SlackViews.alertRoot(renderer, alertname: labels["alertname"] ?? "alert", severity: labels["severity"] ?? "unknown",
                                            target: target, status: "resolved", summary: payload.annotations["summary"],
                                            link: payload.link, alerts: payload.groupSize, started: payload.startsAt)
            messages.append(OutboxMessage(channel: channel, method: .update, body: SlackViews.webAPIBody(root), threadKey: key))
        }
        return JobOutcome(result: "resolved after \(lasted)", followUp: ChangeSet(slackMessages: messages))
    }
}

/// RFC 3339 with 0–9 fractional digits, as Alertmanager writes times.
func parseTime(_ text: String) -> Date? {
    var trimmed = text
    if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
        trimmed = String(text[..<dot]) + String(text[zone...])
    }
    return try? Date(trimmed, strategy: .iso8601)
}

func formatDuration(_ seconds: TimeInterval) -> String {
    // Alert timestamps come from outside: a far-off date must not trap the conversion.
    let whole = seconds.isFinite ? Int(min(max(seconds, 0), 1e12)) : 0
    if whole < 60 { return "\(whole)s" }
    if whole < 3600 { return "\(whole / 60)m \(whole % 60)s" }
    return "\(whole / 3600)h \(whole % 3600 / 60)m"
}
