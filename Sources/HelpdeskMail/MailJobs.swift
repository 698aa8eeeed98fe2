import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskJobs
import HelpdeskStore
import Logging
import Metrics
import Mustache

/// Sends one email, retried with backoff; a permanent SMTP refusal (5xx) dead-letters the job
/// with the server's reply.
public struct MailSendJob: JobHandler {
    public static let kind = "mail.send"
    let mailer: SMTPMailer

    public init(mailer: SMTPMailer) {
        self.mailer = mailer
    }

    public static func job(_ message: MailMessage) -> NewJob {
        let json = String(decoding: (try? JSONEncoder().encode(message)) ?? Data(), as: UTF8.self)
        return NewJob(kind: kind, payload: json, dedupKey: "mail:\(message.messageID)", maxAttempts: 8)
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        guard let message = try? JSONDecoder().decode(MailMessage.self, from: Data(job.payload.utf8)) else {
            throw JobFailure.permanent("mail.send payload is not a message")
        }
        do {
            try await mailer.send(message, envelopeFrom: message.from)
        } catch {
            // Every failed attempt counts, retried or not: a broken relay shows before the jobs dead-letter.
            Counter(label: MetricCatalog.smtpFailures.name).increment()
            if let error = error as? MailError, !error.retryable { throw JobFailure.permanent(error.description) }
            throw error
        }
        Counter(label: MetricCatalog.mailSent.name).increment()
        let sent = AuditDraft(kind: "message_sent", principal: nil, target: message.to.joined(separator: ", "), data: .object([
            "via": .string("email"), "subject": .string(message.subject), "message_id": .string(message.messageID),
        ]))
        return JobOutcome(result: "sent to \(message.to.joined(separator: ", "))", followUp: ChangeSet(audit: [sent]))
    }
}

/// Emails each approver their own approval link when a request opens, and the requester the
/// outcome when it is decided.
public struct EmailApprovalNotifier: ApprovalNotifier {
    let links: ApprovalLinks
    let baseURL: URL
    let from: String
    let domain: String
    let directory: UserDirectory
    let templates: MustacheLibrary
    /// When set, each approver's email carries a Reply-To their reply can decide through.
    let replies: ApprovalReplyAddress?

    public init(links: ApprovalLinks, baseURL: URL, from: String, directory: UserDirectory, templates: MustacheLibrary,
                replies: ApprovalReplyAddress? = nil) {
        self.replies = replies
        self.links = links
        self.baseURL = baseURL
        self.from = from
        self.domain = from.split(separator: "@").last.map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: ">")) } ?? "helpdesk"
        self.directory = directory
        self.templates = templates
    }

    /// The users who may approve: those the request's approvers name (users or roles), or anyone
    /// with an address but the requester when it names none.
    func approvers(of record: ApprovalRecord) -> [UserDirectory.User] {
        let matchers = (record.policyDecision?.approvers ?? []).map(PrincipalMatcher.parse)
        return directory.users.filter { user in
            guard user.email != nil, user.name != record.requester else { return false }
            return matchers.isEmpty || matchers.contains { $0.matches(Principal(id: user.name, roles: user.roles)) }
        }
    }

    public func opened(_ record: ApprovalRecord, decision: Decision) -> ChangeSet {
        let call = record.call?.callText ?? "?"
        var jobs: [NewJob] = []
        for user in approvers(of: record) {
            guard let email = user.email else { continue }
            let link = links.link(base: baseURL, approvalID: record.id, approver: user.name, expires: record.expiresAt).absoluteString
            var context: [String: Any] = [
                "approver": user.name, "requester": record.requester, "call": call, "target": record.call?.target ?? "?",
                "reason": decision.reason, "policy": decision.policy ?? "-", "quorum": String(record.quorum),
                "expires": record.expiresAt.formatted(.iso8601), "link": link, "id": record.id, "can_reply": replies != nil,
            ]
            if let evidence = record.evidence { context["evidence"] = ["lines": evidence.lines.map { ["text": $0] }] }
            let text = templates.render(context, withTemplate: "approval_request.txt") ?? "Approve or deny \(record.id): \(link)"
            let message = MailMessage(from: from, to: [email], replyTo: replies?.address(approvalID: record.id, approver: user.name),
                                      subject: "Approval needed: \(call) on \(context["target"] ?? "?")",
                                      text: text, html: templates.render(context, withTemplate: "approval_request.html"),
                                      messageID: "\(record.id).\(user.name)@\(domain)")
            jobs.append(MailSendJob.job(message))
        }
        return ChangeSet(jobs: jobs)
    }

    public func decided(_ record: ApprovalRecord, summary: String) -> ChangeSet {
        guard let requester = directory.user(named: record.requester), let email = requester.email else { return ChangeSet() }
        let call = record.call?.callText ?? "?"
        let context: [String: Any] = ["requester": requester.name, "id": record.id, "call": call,
                                      "target": record.call?.target ?? "?", "outcome": summary]
        let message = MailMessage(from: from, to: [email], subject: "\(record.id): \(summary)",
                                  text: templates.render(context, withTemplate: "approval_decided.txt") ?? "\(record.id): \(summary)",
                                  messageID: "\(record.id).\(record.status.rawValue).\(randomToken(length: 6))@\(domain)")
        return ChangeSet(jobs: [MailSendJob.job(message)])
    }
}
