import Foundation

/// How a channel stays calm in an alert storm. Applied by the store inside the notification's
/// grouped write, so replicas sharing a store and Alertmanager HA pairs delivering a notification
/// twice see one storm, one digest and one set of diagnoses.
public struct StormRules: Sendable, Equatable {
    /// New alerts a minute (firing or resolved) on one channel above which a storm starts; kept with
    /// the storm when it opens, so a configuration change does not move an open storm's end.
    public var threshold: Int
    /// Places among the storm's diagnoses: the most severe alerts take them, and one that started
    /// keeps its place until it resolves. Kept with the storm, as the digest says.
    public var diagnoseTop: Int
    /// Diagnoses in a storm wait this long after it starts, so a more severe alert can still displace them.
    public var settle: Duration
    /// The digest is edited at most this often.
    public var digestInterval: Duration
    /// A storm ends once the channel's rate has stayed at or below the threshold this long (sooner
    /// once every alert that fired in it resolved). A trickle below the threshold does not keep it open.
    public var quietPeriod: Duration

    public init(threshold: Int = 50, diagnoseTop: Int = 3, settle: Duration = .seconds(15), digestInterval: Duration = .seconds(10),
                quietPeriod: Duration = .seconds(300)) {
        self.threshold = threshold
        self.diagnoseTop = diagnoseTop
        self.settle = settle
        self.digestInterval = digestInterval
        self.quietPeriod = quietPeriod
    }
}

/// One Alertmanager notification as the storm bookkeeping sees it; goes with the alerts it carries
/// (`ChangeSet.alerts`, in the same order as `ranks`).
public struct AlertNotificationIntake: Sendable, Equatable {
    public var channel: String
    public var groupKey: String
    /// The group's name in the digest (its common `alertname`).
    public var groupName: String
    public var severity: String
    /// Each alert's severity rank, higher is more severe; index-aligned with `ChangeSet.alerts`.
    public var ranks: [Int]
    public var rules: StormRules
    /// Queued only when the channel is calm (the group's own root message).
    public var calmMessages: CalmMessages
    /// Whether the storm's root, digest and summary are posted (Slack configured for the channel).
    public var postsToSlack: Bool
    /// When the webhook was received, by this server's clock: the storm's clock (rates, start, end).
    /// Never an alert's `startsAt`, which the sender sets.
    public var receivedAt: Date

    public init(channel: String, groupKey: String, groupName: String, severity: String, ranks: [Int], rules: StormRules,
                calmMessages: CalmMessages, postsToSlack: Bool, receivedAt: Date = Date()) {
        self.channel = channel
        self.groupKey = groupKey
        self.groupName = groupName
        self.severity = severity
        self.ranks = ranks
        self.rules = rules
        self.calmMessages = calmMessages
        self.postsToSlack = postsToSlack
        self.receivedAt = receivedAt
    }

    public init(channel: String, groupKey: String, groupName: String, severity: String, ranks: [Int], rules: StormRules,
                calmMessages: [OutboxMessage], postsToSlack: Bool, receivedAt: Date = Date()) {
        self.init(channel: channel, groupKey: groupKey, groupName: groupName, severity: severity, ranks: ranks, rules: rules,
                  calmMessages: CalmMessages(calmMessages), postsToSlack: postsToSlack, receivedAt: receivedAt)
    }
}

/// A notification's calm messages, made only if the write finds the channel calm: rendering a
/// group's root was a tenth of a webhook's CPU, and in a storm (when notifications come fast) no
/// root is posted. The root's thread and once key are known without rendering it.
public struct CalmMessages: Sendable, Equatable {
    public struct Root: Sendable, Equatable {
        public var threadKey: String?
        public var onceKey: String

        public init(threadKey: String?, onceKey: String) {
            self.threadKey = threadKey
            self.onceKey = onceKey
        }
    }

    public let root: Root?
    /// Whether the messages are the root alone: then, once the root is queued, they need not be made.
    let isRootOnly: Bool
    private let make: @Sendable () -> [OutboxMessage]

    /// `make` returns the group's root (the message `root` describes) and nothing else; it runs
    /// inside the store's write, and only for a calm channel whose root is not queued yet.
    public init(root: Root, make: @escaping @Sendable () -> [OutboxMessage]) {
        self.root = root
        isRootOnly = true
        self.make = make
    }

    public init(_ messages: [OutboxMessage]) {
        root = messages.first { $0.isRoot && $0.onceKey != nil }.map { Root(threadKey: $0.threadKey, onceKey: $0.onceKey!) }
        isRootOnly = root != nil && messages.count == 1
        make = { messages }
    }

    public static let none = CalmMessages([])

    public var messages: [OutboxMessage] { make() }

    public static func == (lhs: CalmMessages, rhs: CalmMessages) -> Bool {
        lhs.root == rhs.root && lhs.messages == rhs.messages
    }
}

public typealias StormID = Int64

/// A storm as stored, for the digest, the closing summary and `helpdesk alerts`.
public struct StormSnapshot: Sendable, Equatable {
    public struct Group: Sendable, Equatable {
        public var groupKey: String
        public var name: String
        public var severity: String
        public var firing: Int
        public var resolved: Int
    }

    public struct Candidate: Sendable, Equatable {
        public enum State: String, Sendable {
            /// Chosen and waiting for the settle window.
            case queued
            /// Diagnosed; it holds its place until it resolves.
            case started
            /// Not diagnosed: a more severe alert took its place before it started, it resolved
            /// first, or it fired again within the cooldown.
            case displaced
        }

        public var fingerprint: String
        public var alertname: String
        public var severity: String
        public var rank: Int
        public var state: State
        public var resolved: Bool
    }

    public var id: StormID
    public var channel: String
    public var startedAt: Date
    public var lastAlertAt: Date
    public var closedAt: Date?
    public var firing: Int
    public var resolved: Int
    public var groupCount: Int
    /// The places among its diagnoses the storm opened with.
    public var diagnoseTop: Int
    /// The largest groups first, at most the number asked for.
    public var groups: [Group]
    /// Those holding or having held a place first, at most ``candidateLimit``: a long storm that
    /// keeps displacing and freeing places must not make every digest read all of them.
    public var candidates: [Candidate]
    public static let candidateLimit = 500

    public var threadKey: String { StormSnapshot.threadKey(id) }
    public static func threadKey(_ id: StormID) -> String { "storm:\(id)" }
}

/// Where a diagnosis of an alert goes, decided when its job starts.
public enum StormDiagnosisClaim: Sendable, Equatable {
    /// The alert is not part of a storm: diagnose it in its group's thread.
    case calm
    /// Chosen among the storm's most severe: diagnose it in the storm's thread.
    case chosen(StormID)
    /// A more severe alert displaced it, or there was no room: do not diagnose.
    case skipped(StormID)
    /// Chosen for now, but the storm's settle window is still open: ask again then.
    case later(StormID, Date)
}

/// What giving back an alert's place among a storm's diagnoses did (it fired again within the cooldown).
public enum StormPlaceRelease: Sendable, Equatable {
    /// The alert is not part of a storm.
    case calm
    /// It held a place in the storm, now free for the next new alert.
    case released(StormID)
    /// Its channel is in a storm, but it held no place.
    case notHeld(StormID)
}

/// The alert a diagnosis job is about, as the storm bookkeeping needs it.
public struct StormDiagnosisRequest: Sendable, Equatable {
    public var fingerprint: String
    public var startsAt: String
    /// Where the alert posts; a diagnosis queued before its channel's storm began joins the storm's selection.
    public var channel: String?
    public var alertname: String
    public var severity: String
    public var rank: Int

    public init(fingerprint: String, startsAt: String, channel: String?, alertname: String, severity: String, rank: Int) {
        self.fingerprint = fingerprint
        self.startsAt = startsAt
        self.channel = channel
        self.alertname = alertname
        self.severity = severity
        self.rank = rank
    }
}

/// Storm state kept by the store.
public protocol StormStore: Sendable {
    /// The open storm of a channel, if any.
    func active(channel: String) async throws -> StormSnapshot?
    func snapshot(_ id: StormID, groupLimit: Int) async throws -> StormSnapshot?
    /// Claims the diagnosis of one alert when its job runs: a queued candidate past the settle
    /// window becomes started; an alert of a channel now in a storm competes for a place first.
    func claimDiagnosis(_ alert: StormDiagnosisRequest, now: Date) async throws -> StormDiagnosisClaim
    /// Gives back the place an alert was given when it arrived, without claiming one: asked before
    /// ``claimDiagnosis(_:now:)`` when the alert is not to be diagnosed (its cooldown), so the place
    /// goes to the next new alert instead of being used up.
    func releaseDiagnosis(_ alert: StormDiagnosisRequest) async throws -> StormPlaceRelease
    /// Closes storms whose channel's rate stayed at or below their threshold for their quiet period
    /// (or whose alerts all resolved, past their settle window),
    /// queueing their closing summary in the same write; returns the storms closed.
    func closeQuiet(now: Date) async throws -> [StormID]
    /// How many storms are open (channels in storm mode), for `/metrics`: one probe of the open-storm index.
    func openCount() async throws -> Int
}
