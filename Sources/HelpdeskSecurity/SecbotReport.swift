import Foundation
import HelpdeskCore
import HelpdeskIncidents
import HelpdeskStore

/// What the security channel's message about one detection shows; the server renders it with the
/// `security_detection` template (HelpdeskSecurity renders nothing itself).
public struct SecbotMessageView: Sendable, Equatable {
    public var kind: String
    /// The subject as a summary shows it (a name that does not look like one is not echoed).
    public var subject: String
    public var summary: String
    public var severity: String
    public var incident: String
    /// `seq 41` or `130 events, seq 41…170`.
    public var events: String

    /// The template's context: every value a string, escaped by the template's content type.
    public var context: [String: String] {
        ["kind": kind, "subject": subject, "summary": summary, "severity": severity, "incident": incident, "events": events,
         "icon": severity == "critical" ? ":rotating_light:" : ":warning:"]
    }
}

/// Builds the one change set a reported detection commits: its `security_detection` audit event, its
/// incident (a bundle with `detection.json` and `events.json`), the message to the security channel,
/// and secbot's position — all or nothing, so a crash never leaves a detection half reported.
struct SecbotReport {
    let detection: Detection
    let incidentID: String
    let now: Date
    let redactor: Redactor

    /// The summary as stored and shown: redacted, one line.
    var summary: String { SecbotText.line(redactor.redact(detection.summary)) }

    /// `data` of the `security_detection` event (the shape govbot reads).
    /// `posted`: whether a message went to the security channel (what the hourly budget counts).
    func eventData(incident: String?, dryRun: Bool, posted: Bool = false) -> JSONValue {
        .object([
            "kind": .string(detection.kind.rawValue), "subject": .string(detection.subject), "summary": .string(summary),
            "event_seqs": .array(detection.events.map { .number(Double($0.seq)) }),
            "incident": incident.map(JSONValue.string) ?? .null, "dry_run": .bool(dryRun), "posted": .bool(posted),
        ])
    }

    func auditEvent(posted: Bool) -> AuditDraft {
        AuditDraft(kind: "security_detection", principal: BuiltInServices.securityBot, target: detection.target,
                   data: eventData(incident: incidentID, dryRun: false, posted: posted))
    }

    var view: SecbotMessageView {
        let seqs = detection.events.map(\.seq)
        let events = switch seqs.count {
        case 0: "none read"
        case 1: "seq \(seqs[0])"
        default: "\(seqs.count) events, seq \(seqs.min() ?? 0)…\(seqs.max() ?? 0)"
        }
        return SecbotMessageView(kind: detection.kind.rawValue, subject: SecbotText.name(detection.subject), summary: summary,
                                 severity: detection.kind.severity, incident: incidentID, events: events)
    }

    /// The bundle: the detection, and the offending events with their data passed through the redactor.
    var bundle: IncidentBundle {
        var detectionFile = eventData(incident: incidentID, dryRun: false)
        if case .object(var fields) = detectionFile {
            fields["severity"] = .string(detection.kind.severity)
            fields["created"] = .string(now.formatted(.iso8601))
            detectionFile = .object(fields)
        }
        let events = detection.events.map { event -> JSONValue in
            .object([
                "seq": .number(Double(event.seq)), "id": .string(event.id), "at": .string(event.at.formatted(.iso8601)),
                "kind": .string(event.kind), "principal": event.principal.map(JSONValue.string) ?? .null,
                "target": event.target.map(JSONValue.string) ?? .null,
                "data": redactor.redact((try? JSONValue(parsing: event.data)) ?? .string(event.data)),
                "prev_hash": .string(event.prevHash), "hash": .string(event.hash),
            ])
        }
        return IncidentBundle(id: incidentID, created: now, files: [
            ("detection.json", Data(detectionFile.prettyJSONText.utf8)),
            ("events.json", Data(JSONValue.array(events).prettyJSONText.utf8)),
        ])
    }

    /// The whole change set. `bundleDirectory` `nil` keeps the bundle in the store (every replica serves
    /// it), as diagnoses do on PostgreSQL; otherwise it is written there first, as diagnoses do on SQLite.
    func changes(channel: String?, render: (SecbotMessageView) -> JSONValue, bundleDirectory: String?,
                 position: ProgressMark) async throws -> ChangeSet {
        let path: String, bytes: Int, content: Data?
        if let bundleDirectory {
            // One per detection, whose number an attacker drives: the fsync stays off the cooperative pool.
            (path, bytes) = try await withBlockingIO { [bundle] in try bundle.write(into: bundleDirectory) }
            content = nil
        } else {
            let archive = try bundle.archive()
            (path, bytes) = (IncidentRecord.storedBundlePrefix + incidentID, archive.count)
            content = archive
        }
        let incident = IncidentRecord(id: incidentID, createdAt: now, target: detection.subject, trigger: "secbot: \(detection.kind.rawValue)",
                                      summary: summary, severity: detection.kind.severity, findingCount: 1, bundlePath: path,
                                      bundleBytes: bytes, bundleContent: content)
        let messages = channel.map { [OutboxMessage(channel: $0, body: render(view))] } ?? []
        return ChangeSet(incidents: [incident], audit: [auditEvent(posted: !messages.isEmpty)], slackMessages: messages, progress: [position])
    }
}
