import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskHTTPClient
import HelpdeskServer
import HelpdeskSlack
import HelpdeskStore
import Synchronization

/// The story `helpdesk demo` tells once its server runs, each step on standard output as it happens:
/// the alert, the diagnosis naming the blocking session, the on-call engineer's request for the fix,
/// the two DBAs' approvals (given by people, in the web channel), the fix, the blocked updates
/// finishing and the audit chain verifying. Everything goes through the server's own doors: the
/// Alertmanager webhook over HTTP, the alert bot's job, the gate, the approval's execution job.
struct DemoStory: Sendable {
    static let alertName = "PostgresLockPileUp"
    /// How long the diagnosis may take once the alert is in (its job waits alertmanager.diagnosis_delay first).
    static let diagnosisLimit: Duration = .seconds(90)

    let incident: DemoIncident
    let password: String
    let openBrowser: Bool
    let environment: [String: String]
    /// Keeps the browser's opener referenced for as long as the demo runs.
    let browser: DemoKeepAlive

    func tell(running: AsyncStream<(Composition, ListenAddress)>) async throws {
        try await withThrowingTaskGroup(of: Void.self) { updates in
            // Started at once, so the updates have queued behind the lock by the time the alert fires.
            updates.addTask { try await incident.runBlockedUpdates() }
            do {
                var started = running.makeAsyncIterator()
                guard let server = await started.next() else { throw CancellationError() }
                let (composition, address) = server
                let store = composition.store
                introduce(composition, at: address)
                // The runbook's rule calls the blocker the cause once it has been idle in its transaction for 10 s.
                try await Task.sleep(until: incident.idleSince + .milliseconds(10_500), clock: .continuous)
                let alert = (fingerprint: randomToken(length: 16), startsAt: Date())
                try await postAlert(to: Self.baseURL(address), fingerprint: alert.fingerprint, startsAt: alert.startsAt)
                say("demo: alert posted")

                let diagnosis = try await diagnosis(in: store)
                guard diagnosis.summary.contains("PID \(incident.blockerPID) ") else {
                    throw DemoError("the diagnosis does not name the blocking session (PID \(incident.blockerPID)): \(diagnosis.summary)")
                }
                say("demo: diagnosis names the blocking session \(incident.blockerPID)")

                let approval = try await requestFix(composition, recommendedBy: diagnosis)
                let approvers = DemoFiles.people.filter { $0.role == "dba" }.map(\.name).joined(separator: " and ")
                say("demo: oncall requested terminate_backend (approval \(approval.id)), waiting for \(approvers)")
                try await waitForFix(approval.id, in: store)
                say("demo: fix ran")

                try await updates.waitForAll()
                say("demo: blocked updates finished")
                // As Alertmanager would once the lock is gone: the feed's alert thread tells the resolution.
                try await postAlert(to: Self.baseURL(address), fingerprint: alert.fingerprint, startsAt: alert.startsAt, resolvedAt: Date())

                let verification = try await store.audit.verify()
                guard verification.ok else {
                    let place = verification.brokenAt.map { " at event \($0)" } ?? ""
                    throw DemoError("the audit chain does not verify\(place): \(verification.problem ?? "no reason given")")
                }
                say("demo: audit chain verified (\(verification.checked) events)")
                // The end of the story in the feed too, in the alert's thread.
                let note: Mrkdwn = "The blocked updates finished and the audit chain verifies (\(verification.checked) events): end of the demo."
                try await store.apply(ChangeSet(slackMessages: [
                    OutboxMessage(channel: OutboxMessage.webChannel, body: note.messageBody, threadKey: SlackViews.alertThreadKey(Self.groupKey)),
                ]))
            } catch {
                // Not left waiting behind a lock that may never be released.
                updates.cancelAll()
                throw error
            }
        }
    }

    /// The first two lines: where to sign in, and as whom.
    private func introduce(_ composition: Composition, at address: ListenAddress) {
        let base = Self.baseURL(address)
        say("demo: web channel at \(base)")
        say("demo: sign in as \(DemoFiles.people.map(\.name).joined(separator: ", ").replacingLastComma()) with password \(password)")
        if openBrowser, let opener = Self.openInBrowser(base, environment: environment) { browser.keep(opener) }
        if let file = composition.configuration.file {
            printError("demo: its configuration is \(file); from another terminal, "
                       + "`helpdesk approvals list --config \(file)` (and approve --as dba1) work on it too")
        }
    }

    static func baseURL(_ address: ListenAddress) -> String {
        "http://\(reachable(address))/"
    }

    /// An Alertmanager (webhook version 4) notification, posted to the bot as Alertmanager would.
    /// Posts the alert firing, or resolved at `resolvedAt`.
    func postAlert(to base: String, fingerprint: String, startsAt: Date, resolvedAt: Date? = nil) async throws {
        guard let url = URL(string: base + "webhooks/alertmanager") else { throw DemoError("no webhook URL under \(base)") }
        let payload = Self.alertPayload(fingerprint: fingerprint, startsAt: startsAt, resolvedAt: resolvedAt, link: base + "web/alerts")
        let reply = try await AsyncHTTPTransport().postJSON(url, headers: [], body: Data(payload.jsonText.utf8), timeout: .seconds(10))
        guard reply.status == 200 else {
            throw DemoError("the bot refused the alert (HTTP \(reply.status)): \(String(decoding: reply.body.prefix(500), as: UTF8.self))")
        }
    }

    static let groupKey = "{}:{alertname=\"\(alertName)\"}"

    static func alertPayload(fingerprint: String, startsAt: Date, resolvedAt: Date? = nil, link: String) -> JSONValue {
        let status = resolvedAt == nil ? "firing" : "resolved"
        let labels = JSONValue.object(["alertname": .string(alertName), "severity": .string("critical"),
                                       "target": .string(DemoFiles.databaseID), "team": .string("dba")])
        let annotations = JSONValue.object([
            "summary": .string("Sessions on \(DemoFiles.databaseID) are piling up behind a lock"),
            "description": .string("Updates of order 1 have waited for over 10 seconds, and connections are filling up."),
        ])
        return .object([
            "version": .string("4"), "groupKey": .string(groupKey), "truncatedAlerts": .number(0),
            "status": .string(status), "receiver": .string(DemoFiles.receiver), "groupLabels": .object(["alertname": .string(alertName)]),
            "commonLabels": labels, "commonAnnotations": annotations, "externalURL": .string(link),
            "alerts": .array([.object([
                "status": .string(status), "labels": labels, "annotations": annotations,
                "startsAt": .string(startsAt.formatted(.iso8601)), "endsAt": .string(resolvedAt?.formatted(.iso8601) ?? "0001-01-01T00:00:00Z"),
                "generatorURL": .string(""), "fingerprint": .string(fingerprint),
            ])]),
        ])
    }

    /// The alert bot's diagnosis of the alert, from the incident index it writes.
    func diagnosis(in store: any Store) async throws -> IncidentRecord {
        let deadline = ContinuousClock.now + Self.diagnosisLimit
        while ContinuousClock.now < deadline {
            let found = try await store.incidents.list(limit: 20).first {
                $0.target == DemoFiles.databaseID && $0.trigger == "alert: \(Self.alertName)"
            }
            if let found { return found }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw DemoError("no diagnosis of the alert within \(Self.diagnosisLimit.compactText); run with --log-level info to see why")
    }

    /// What the runbook recommends for the finding (`terminate_backend` of the blocker's PID), asked
    /// for by the on-call engineer through the gate as the Run button does, with the incident and its
    /// finding for the approvers: policy holds it for two DBAs.
    func requestFix(_ composition: Composition, recommendedBy diagnosis: IncidentRecord) async throws -> ApprovalRecord {
        let oncall = composition.governance.principal(named: "oncall")
        let call = ToolCall(tool: "terminate_backend", target: DemoFiles.databaseID,
                            arguments: ["pid": .number(Double(incident.blockerPID))])
        // The summary reads "demo-db: 1 critical — FINDING": the worst finding, the one that names the blocker.
        let finding = diagnosis.summary.range(of: " — ").map { String(diagnosis.summary[$0.upperBound...]) } ?? diagnosis.summary
        let origin = ApprovalOrigin(incidentID: diagnosis.id, finding: finding)
        switch try await composition.governance.request(call, by: oncall, origin: origin, via: "demo") {
        case .pendingApproval(let record, _):
            return record
        case .denied(let decision):
            throw DemoError("policy refused oncall's terminate_backend: \(decision.reason)")
        case .ran, .failed, .repeated:
            throw DemoError("terminate_backend ran without waiting for approval: the demo's policy did not apply")
        }
    }

    /// Waits for two DBAs to approve (in the web channel, or `helpdesk approvals approve`) and for the
    /// approved call to run.
    func waitForFix(_ id: String, in store: any Store) async throws {
        while true {
            guard let record = try await store.approvals.approval(id: id) else { throw DemoError("the approval request \(id) is gone") }
            switch record.status {
            case .pending:
                break
            case .denied:
                throw DemoError("\(record.decidedBy ?? "an approver") denied \(id): the blocking session stays")
            case .expired:
                throw DemoError("\(id) expired before two DBAs approved it")
            case .approved:
                if record.execution == "succeeded" { return }
                if record.execution == "failed" {
                    throw DemoError("the approved terminate_backend failed: \(record.result?.jsonText ?? "no result")")
                }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// The address to reach a listener at: a wildcard listener is reached on loopback.
    static func reachable(_ address: ListenAddress) -> ListenAddress {
        switch address.host {
        case "0.0.0.0": ListenAddress(host: "127.0.0.1", port: address.port)
        case "::": ListenAddress(host: "::1", port: address.port)
        default: address
        }
    }

    /// Opens `url` in the desktop's browser, quietly; nothing without a display (no text browser
    /// takes over the terminal).
    static func openInBrowser(_ url: String, environment: [String: String]) -> DemoChildProcess? {
        #if os(macOS)
        let opener = "/usr/bin/open"
        #else
        guard environment["DISPLAY"] != nil || environment["WAYLAND_DISPLAY"] != nil else { return nil }
        let searchPath = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        let found = searchPath.map { "\($0)/xdg-open" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let opener = found else { return nil }
        #endif
        // From the caller's folder: a browser it starts outlives the demo's own.
        return try? DemoChildProcess([opener, url], directory: FileManager.default.currentDirectoryPath, environment: environment,
                                     output: nil)
    }
}

/// One line of the story on standard output, written at once (tests and people read it as it comes).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Children the demo starts and never waits for (the browser's opener), kept until it exits.
final class DemoKeepAlive: Sendable {
    private let children = Mutex<[DemoChildProcess]>([])

    func keep(_ child: DemoChildProcess) {
        children.withLock { $0.append(child) }
    }
}

private extension String {
    /// "a, b, c" → "a, b or c".
    func replacingLastComma() -> String {
        guard let range = range(of: ", ", options: .backwards) else { return self }
        return replacingCharacters(in: range, with: " or ")
    }
}
