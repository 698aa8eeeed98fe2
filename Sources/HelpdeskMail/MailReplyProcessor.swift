import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import Logging

/// Decides approvals from email replies: the reply must go to the request's tokenized address,
/// come from the approver that address was issued to (and, when configured, pass your MTA's
/// DMARC/DKIM/SPF check), and start with "approve" or "deny". Anything else is refused and audited.
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

    public init(governance: Governance, store: any Store, addresses: ApprovalReplyAddress, directory: UserDirectory, authservID: String?) {
        self.governance = governance
        self.store = store
        self.addresses = addresses
        self.directory = directory
        self.authservID = authservID
    }

    public func process(raw: String, envelopeRecipient: String? = nil) async -> Outcome {
        let mail = InboundMail(raw: raw)
        let outcome = await decide(mail, envelopeRecipient: envelopeRecipient)
        if case .rejected(let why) = outcome {
            try? await store.apply(ChangeSet(audit: [AuditDraft(kind: "email_rejected", principal: mail.header("From").map(InboundMail.address),
                                                                target: nil, data: .object(["reason": .string(why),
                                                                                            "subject": .string(mail.header("Subject") ?? "")]))]))
        }
        return outcome
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
        let sender = InboundMail.address(mail.header("From") ?? "")
        guard sender == expected else { return .rejected("the sender \(sender) is not the approver this address was sent to") }
        if let authservID, !authenticated(mail, sender: sender, authservID: authservID) {
            return .rejected("no passing DMARC, DKIM or SPF result from \(authservID) for \(sender)")
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

    /// An `Authentication-Results` header from our own authserv-id saying the sender's domain passed.
    func authenticated(_ mail: InboundMail, sender: String, authservID: String) -> Bool {
        let domain = sender.split(separator: "@").last.map(String.init) ?? ""
        return mail.all("Authentication-Results").contains { value in
            let lower = value.lowercased()
            guard lower.hasPrefix(authservID.lowercased() + ";") || lower.hasPrefix(authservID.lowercased() + " ") else { return false }
            return lower.contains("dmarc=pass") && lower.contains("header.from=\(domain)")
                || lower.contains("dkim=pass") && lower.contains("header.d=\(domain)")
                || lower.contains("spf=pass") && lower.contains("smtp.mailfrom=") && lower.contains("@\(domain)")
        }
    }
}
