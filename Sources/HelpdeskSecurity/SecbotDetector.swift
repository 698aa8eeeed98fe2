import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore

/// Reads audit events in order and says what looks wrong (see ``DetectionKind``).
///
/// Each event is checked against the chain as it is read; the rules that need more than the event ask
/// the store (an approval's status, the decisions before a call). Rolling state — events per principal
/// in the last minute, denials per principal in `denials_window` — lives here, so after a restart the
/// caller ``warm(_:)``s it with the events it had examined before, which reports nothing.
///
/// ```swift
/// var detector = SecbotDetector(settings: configuration.secbot, store: store, directory: configuration.directory)
/// detector.resume(after: head)            // the last event examined before (nil: from the first)
/// for event in try await store.audit.events(afterSeq: head?.seq ?? 0, limit: 500) {
///     for detection in try await detector.examine(event) { print(detection.line) }
/// }
/// ```
public struct SecbotDetector: Sendable {
    /// Kinds that do not count towards `high_volume`: what the outside sends (a storm is not abuse)
    /// and what the bot writes for it.
    public static let volumeExempt: Set<String> = ["alert_received", "message_sent", "storm_started", "storm_ended"]

    let settings: SecbotSettings
    let store: any Store
    let directory: UserDirectory
    let keyring: AuditKeyring
    private var walk: AuditChainWalk
    /// Per principal: their events within the last minute, oldest first (at most the threshold's worth).
    private var recent: [String: [AuditEvent]] = [:]
    /// Per principal: their denied decisions within `denials_window`, oldest first.
    private var denied: [String: [AuditEvent]] = [:]
    /// When a burst or a run of denials was last reported per principal: once per window, not once per event.
    private var volumeReported: [String: Date] = [:]
    private var denialsReported: [String: Date] = [:]
    private var examined = 0

    public init(settings: SecbotSettings, store: any Store, directory: UserDirectory, after head: AuditHead? = nil) {
        self.settings = settings
        self.store = store
        self.directory = directory
        keyring = store.auditChain?.keyring ?? AuditKeyring()
        walk = AuditChainWalk(keyring: keyring, after: head)
    }

    /// Checks the chain from after `head` (the last event examined), as after a restart.
    public mutating func resume(after head: AuditHead?) {
        walk = AuditChainWalk(keyring: keyring, after: head)
    }

    /// Feeds an event examined before (a restart's warm-up): the rolling windows only, nothing reported.
    public mutating func warm(_ event: AuditEvent) {
        guard let principal = event.principal, principal != BuiltInServices.securityBot else { return }
        // A burst or run of denials already complete here was reported then: rolling marks it so.
        _ = roll(event, principal: principal)
        if isDenial(event) { _ = rollDenial(event, principal: principal) }
    }

    /// Examines the next event of the log; events must come in seq order.
    public mutating func examine(_ event: AuditEvent) async throws -> [Detection] {
        var found: [Detection] = []
        if let broken = walk.check(event) {
            let problem = broken.problem ?? "it does not fit the chain"
            found.append(Detection(kind: .hashMismatch, subject: Detection.chainSubject,
                                   summary: "audit event \(event.seq) (\(SecbotText.name(event.id))): \(problem)", events: [event]))
            // Go on from the event as stored, so one break is reported once, not again at every event after it.
            walk = AuditChainWalk(keyring: keyring, after: AuditHead(seq: event.seq, hash: event.hash))
        }
        examined += 1
        if examined % 1000 == 0 { forgetIdle(before: event.at) }
        // Its own events are examined for the chain only: a detection must not beget detections.
        guard event.principal != BuiltInServices.securityBot else { return found }
        if let principal = event.principal {
            found += roll(event, principal: principal)
            if isDenial(event) { found += rollDenial(event, principal: principal) }
        }
        switch event.kind {
        case "tool_call": found += try await toolCall(event)
        case "policy_decision": found += injection(in: event)
        case "approval_vote", "approval_vote_refused": found += try await vote(event)
        case "policy_reloaded": found += policyReload(event)
        default: break
        }
        return found
    }

    // MARK: Rolling windows

    private mutating func roll(_ event: AuditEvent, principal: String) -> [Detection] {
        guard !Self.volumeExempt.contains(event.kind) else { return [] }
        let threshold = settings.highVolumePerMinute
        var window = recent[principal, default: []]
        window.append(event)
        window.removeAll { event.at.timeIntervalSince($0.at) >= 60 }
        if window.count > threshold { window.removeFirst(window.count - threshold) }
        recent[principal] = window
        guard window.count >= threshold, volumeReported[principal].map({ event.at.timeIntervalSince($0) >= 60 }) ?? true else { return [] }
        volumeReported[principal] = event.at
        return [Detection(kind: .highVolume, subject: principal,
                          summary: "\(SecbotText.name(principal)) wrote \(window.count) audit events within a minute "
                              + "(seq \(window.first?.seq ?? event.seq)…\(event.seq)); the threshold is \(threshold)",
                          events: window)]
    }

    private func isDenial(_ event: AuditEvent) -> Bool {
        event.kind == "policy_decision" && SecbotEventData.decode(SecbotEventData.PolicyDecision.self, from: event)?.decision?.effect == "deny"
    }

    private mutating func rollDenial(_ event: AuditEvent, principal: String) -> [Detection] {
        let threshold = settings.denials, span = settings.denialsWindow.seconds
        var window = denied[principal, default: []]
        window.append(event)
        window.removeAll { event.at.timeIntervalSince($0.at) >= span }
        if window.count > threshold { window.removeFirst(window.count - threshold) }
        denied[principal] = window
        guard window.count >= threshold, denialsReported[principal].map({ event.at.timeIntervalSince($0) >= span }) ?? true else { return [] }
        denialsReported[principal] = event.at
        return [Detection(kind: .repeatedDenials, subject: principal,
                          summary: "\(SecbotText.name(principal)) was denied \(window.count) times within "
                              + "\(settings.denialsWindow.compactText) (seq \(window.first?.seq ?? event.seq)…\(event.seq))",
                          events: window)]
    }

    /// Drops the windows of principals quiet for longer than any window, so the state stays small.
    private mutating func forgetIdle(before now: Date) {
        let span = max(60, settings.denialsWindow.seconds)
        recent = recent.filter { now.timeIntervalSince($0.value.last?.at ?? .distantPast) < span }
        denied = denied.filter { now.timeIntervalSince($0.value.last?.at ?? .distantPast) < span }
        volumeReported = volumeReported.filter { now.timeIntervalSince($0.value) < span }
        denialsReported = denialsReported.filter { now.timeIntervalSince($0.value) < span }
    }
}
