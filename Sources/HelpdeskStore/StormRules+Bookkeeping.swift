import Foundation
import HelpdeskCore

/// Storm bookkeeping that is the same in every store: the decisions that need no SQL, and the
/// messages and audit events a storm's start and end queue. ``SQLiteStorms`` and `PostgresStorms`
/// call these, so the two stores cannot drift apart.
extension StormRules {
    /// A channel's alert rate as storms see it: a sliding minute made of two counter rows, the
    /// previous minute weighted by how much of it is still inside the window.
    struct Pace: Equatable {
        /// Alerts (firing or resolved) in the sliding minute ending at the time asked about.
        var rate: Double
        var threshold: Int
        /// When the rate falls to the threshold or below if no further alert arrives (seconds since
        /// 1970); the time asked about when it already is.
        var calmFrom: Double

        var isAbove: Bool { rate > Double(threshold) }

        /// - Parameters:
        ///   - current: alerts counted in `minute`, the minute holding `seconds`.
        ///   - previous: alerts counted in the minute before.
        init(current: Int, previous: Int, minute: Int64, at seconds: Double, threshold: Int) {
            let start = Double(minute) * 60
            let elapsed = min(max((seconds - start) / 60, 0), 1)
            let limit = Double(threshold), now = Double(current), before = Double(previous)
            rate = now + before * (1 - elapsed)
            self.threshold = threshold
            if rate <= limit {
                calmFrom = seconds
            } else if now <= limit {
                // Within this minute, as the previous one slides out: now + before × (1 − e) ≤ limit.
                calmFrom = start + 60 * (1 - (limit - now) / before)
            } else {
                // In the next minute, as this one slides out: now × (1 − e) ≤ limit.
                calmFrom = start + 60 + 60 * (1 - limit / now)
            }
        }
    }

    /// A candidate holding a place among a storm's diagnoses (queued or started, not resolved).
    struct Holder: Equatable {
        /// Its row (`rowid` in SQLite, `id` in PostgreSQL): a larger one is newer.
        var id: Int64
        var rank: Int
        var queued: Bool
    }

    /// Where a new alert stands among a storm's diagnoses.
    enum Place: Equatable {
        /// Fewer than `top` hold one: it takes a free place.
        case free
        /// It takes the place of `holders[index]`, the weakest queued holder (lowest rank, newest).
        case displacing(Int)
        /// Every place is held by an alert that started, or by one at least as severe.
        case full
    }

    /// A queued holder gives its place to a more severe alert; a started one keeps it until it resolves.
    static func place(rank: Int, holders: [Holder], top: Int) -> Place {
        guard holders.count >= top else { return .free }
        let weakest = holders.indices.filter { holders[$0].queued && holders[$0].rank < rank }
            .min { (holders[$0].rank, -holders[$0].id) < (holders[$1].rank, -holders[$1].id) }
        return weakest.map(Place.displacing) ?? .full
    }

    /// The indices of a notification's firing alerts, most severe first (ties: the notification's order).
    static func bySeverity(_ indices: [Int], ranks: [Int]) -> [Int] {
        indices.sorted { (ranks[$0], -$0) > (ranks[$1], -$1) }
    }

    /// A chosen alert's jobs, run no sooner than `runAt` (the end of the storm's settle window).
    static func settled(_ jobs: [NewJob], runAt: Date) -> [NewJob] {
        jobs.map { job in
            var job = job
            job.runAt = max(job.runAt ?? runAt, runAt)
            return job
        }
    }

    static func startedEvent(storm id: StormID, channel: String, threshold: Int) -> AuditDraft {
        AuditDraft(kind: "storm_started", principal: "service:alertmanager", target: channel,
                   data: .object(["storm": .number(Double(id)), "threshold": .number(Double(threshold))]))
    }

    /// The storm's root: its digest, rendered when sent.
    static func rootMessage(storm id: StormID, channel: String) -> OutboxMessage {
        OutboxMessage(channel: channel, body: .object(["text": .string("Alert storm")]), threadKey: StormSnapshot.threadKey(id),
                      isRoot: true, onceKey: "storm-root:\(id)", rendered: .stormDigest(id))
    }

    /// An edit of the storm's digest, sent at most once every `gap`.
    static func digestEdit(_ id: StormID, channel: String, gap: Duration) -> OutboxMessage {
        OutboxMessage(channel: channel, method: .update, body: .object([:]), threadKey: StormSnapshot.threadKey(id),
                      rendered: .stormDigest(id), editGap: gap)
    }

    static func endedEvent(storm id: StormID, channel: String, snapshot: StormSnapshot?) -> AuditDraft {
        AuditDraft(kind: "storm_ended", principal: "service:alertmanager", target: channel, data: .object([
            "storm": .number(Double(id)), "firing": .number(Double(snapshot?.firing ?? 0)), "resolved": .number(Double(snapshot?.resolved ?? 0)),
            "groups": .number(Double(snapshot?.groupCount ?? 0)),
            "diagnosed": .array((snapshot?.candidates ?? []).filter { $0.state != .displaced }.map { .string($0.fingerprint) }),
        ]))
    }

    /// What a storm's end queues: the digest's last edit, at once, then the closing summary.
    static func closingMessages(storm id: StormID, channel: String) -> [OutboxMessage] {
        [
            digestEdit(id, channel: channel, gap: .zero),
            OutboxMessage(channel: channel, body: .object(["text": .string("Alert storm ended")]), threadKey: StormSnapshot.threadKey(id),
                          onceKey: "storm-summary:\(id)", rendered: .stormSummary(id)),
        ]
    }
}

extension StoredAlert {
    /// A stored `labels` or `annotations` JSON object as strings; `[:]` for anything else.
    static func strings(_ text: String?) -> [String: String] {
        guard let text, case .object(let object)? = try? JSONValue(parsing: text) else { return [:] }
        return object.mapValues(\.description)
    }
}
