import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import Logging

/// Decides approvals from email replies: the reply must go to the request's tokenized address,
/// come from the approver that address was issued to (and, when `smtp.inbound_authserv_id` is set,
/// carry your MTA's DMARC or aligned DKIM pass; see ``SenderAuthentication``), and start with "approve"
/// or "deny". Anything else is refused and audited, with the fields copied from it capped.
public struct MailReplyProcessor: Sendable {
    public enum Outcome: Sendable, Equatable {
        case decided(String)
        case rejected(String)
    }

    let governance: Governance
    let store: any Store
    let addresses: ApprovalReplyAddress
    let directory: UserDirectory
    let authservID: String?
    /// `inbound_email:`: the webhook's credentials and the MIME bounds every message is read within.
    public let inbound: InboundEmailSettings

    public init(governance: Governance, store: any Store, addresses: ApprovalReplyAddress, directory: UserDirectory, authservID: String?,
                inbound: InboundEmailSettings = InboundEmailSettings()) {
        self.governance = governance
        self.store = store
        self.addresses = addresses
        self.directory = directory
        self.authservID = authservID
        self.inbound = inbound
    }

    var limits: InboundMail.Limits { InboundMail.Limits(maxDepth: inbound.maxMIMEDepth, maxParts: inbound.maxMIMEParts) }

    public func process(raw: String, envelopeRecipient: String? = nil) async -> Outcome {
        let mail: InboundMail
        do {
            mail = try InboundMail(raw: raw, limits: limits)
        } catch {
            let why = "the message was not read: \(error)"
            await audit(reason: why, sender: nil, subject: nil)
            return .rejected(why)
        }
        let outcome = await decide(mail, envelopeRecipient: envelopeRecipient)
        if case .rejected(let why) = outcome {
            await audit(reason: why, sender: mail.header("From").map(InboundMail.address), subject: mail.header("Subject"))
        }
        return outcome
    }

    /// One `email_rejected` event; every field from the message is capped (``AuditField``).
    private func audit(reason: String, sender: String?, subject: String?) async {
        let data: JSONValue = .object(["reason": .string(AuditField.cap(reason)), "subject": .string(AuditField.cap(subject ?? ""))])
        try? await store.apply(ChangeSet(audit: [AuditDraft(kind: "email_rejected", principal: sender.map { AuditField.cap($0) }, target: nil, data: data)]))
    }

    private func decide(_ mail: InboundMail, envelopeRecipient: String?) async -> Outcome {
        if mail.isAutomatic { return .rejected("an automatic reply (out of office, list, bounce) decides nothing") }
        let recipients = [envelopeRecipient].compactMap { $0 } + ["Delivered-To", "X-Original-To", "To", "Cc"].flatMap { mail.all($0) }
            .flatMap { $0.split(separator: ",").map { InboundMail.address(String($0)) } }
        guard let (approvalID, token) = recipients.lazy.compactMap({ addresses.parse(InboundMail.address($0)) }).first else {
            return .rejected("not addressed to an approval reply address")
        }
        guard let record = try? await store.approvals.approval(id: approvalID) else { return .rejected("no approval request \(approvalID)") }
        let candidates = directory.users.filter { $0.email != nil }.map(\.name)
        guard let approver = addresses.approver(for: token, approvalID: record.id, candidates: candidates),
              let expected = directory.user(named: approver)?.email?.lowercased() else {
            return .rejected("the reply address's token is not valid")
        }
        guard mail.all("From").count == 1 else { return .rejected("the message has \(mail.all("From").count) From headers, not one") }
        let sender = InboundMail.address(mail.header("From") ?? "")
        guard sender == expected else {
            return .rejected("the sender \(AuditField.cap(sender, bytes: 100)) is not the approver this address was sent to")
        }
        if let authservID,
           let failure = SenderAuthentication.check(mail, senderDomain: SenderAuthentication.domain(of: sender), authservID: authservID) {
            return .rejected("the sender's domain is not authenticated by \(authservID) (DMARC pass, or aligned DKIM pass): \(failure)")
        }
        guard let line = mail.firstReplyLine?.lowercased() else { return .rejected("the reply has no first line to read") }
        let approve: Bool
        let rest: Substring
        if line.hasPrefix("approve") { approve = true; rest = line.dropFirst(7) }
        else if line.hasPrefix("deny") { approve = false; rest = line.dropFirst(4) }
        else { return .rejected("the first line does not start with approve or deny") }
        let reason = rest.trimmingCharacters(in: CharacterSet(charactersIn: " :-,.")).isEmpty ? nil : rest.trimmingCharacters(in: CharacterSet(charactersIn: " :-,."))
        do {
            let result = try await governance.vote(on: record.id, by: governance.principal(named: approver), approve: approve, reason: reason, via: "email-reply")
            switch result {
            case .recorded, .approved, .denied: return .decided(result.message)
            default: return .rejected(result.message)
            }
        } catch {
            return .rejected("the vote could not be recorded: \(error)")
        }
    }
}
