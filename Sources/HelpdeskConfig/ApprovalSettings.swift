import Foundation
import HelpdeskCore

/// `approvals:` — how approval requests behave, and the keys that sign their links.
public struct ApprovalSettings: Sendable {
    /// Used when a policy rule sets no `approval_ttl`.
    public var defaultTTL: Duration = .seconds(3600)
    /// An approved request that has not started within this long of its approval expires unrun.
    public var executeWithin: Duration = .seconds(600)
    /// Signs approval links; from `HELPDESK_APPROVALS_LINK_KEY` or `approvals.link_key_file`.
    public var linkKey: Secret?
    /// Written into every new link and reply address, so the key can be rotated.
    public var linkKeyID = "k1"
    /// The key before a rotation: links it signed still verify until they expire. From
    /// `HELPDESK_APPROVALS_PREVIOUS_LINK_KEY` or `approvals.previous_link_key_file`.
    public var previousLinkKey: Secret?
    /// Required with the previous key; must end in another character than `linkKeyID` (reply
    /// addresses carry only the last character).
    public var previousLinkKeyID: String?
    /// A folder of web page templates (the approval confirmation page) that override the built-in
    /// ones file by file; `nil`: only the built-in ones.
    public var pagesDirectory: String?

    public init() {}

    init(_ section: ConfigSection) {
        pagesDirectory = section.folder("pages_dir", overriding: "the built-in web pages file by file")
        defaultTTL = section.duration("default_ttl", default: defaultTTL, range: .seconds(60) ... .seconds(7 * 86400))
        linkKey = section.secret("link_key", environment: "HELPDESK_APPROVALS_LINK_KEY")
        executeWithin = section.duration("execute_within", default: executeWithin, range: .seconds(1) ... .seconds(86400))
        linkKeyID = section.string("link_key_id", default: linkKeyID)
        if !Self.isValidKeyID(linkKeyID) {
            section.report("link_key_id", Self.keyIDRule + ", got \"\(linkKeyID)\"")
        }
        previousLinkKey = section.secret("previous_link_key", environment: "HELPDESK_APPROVALS_PREVIOUS_LINK_KEY")
        previousLinkKeyID = section.optionalString("previous_link_key_id")
        checkPrevious(section)
        section.finish()
    }

    private mutating func checkPrevious(_ section: ConfigSection) {
        switch (previousLinkKey, previousLinkKeyID) {
        case (_?, nil):
            section.reportSection("HELPDESK_APPROVALS_PREVIOUS_LINK_KEY (or previous_link_key_file) is set without " +
                                  "approvals.previous_link_key_id: set the id the previous key had (k1 unless link_key_id said otherwise)")
        case (nil, _?):
            section.report("previous_link_key_id", "no previous link key resolves: set HELPDESK_APPROVALS_PREVIOUS_LINK_KEY or " +
                           "approvals.previous_link_key_file, or remove previous_link_key_id once old links have expired")
        case (_?, let id?):
            if !Self.isValidKeyID(id) {
                section.report("previous_link_key_id", Self.keyIDRule + ", got \"\(id)\"")
            } else if id.lowercased().last == linkKeyID.lowercased().last {
                section.report("previous_link_key_id", "must end in another letter or digit than link_key_id \"\(linkKeyID)\": " +
                               "reply addresses carry only the key id's last character (use k1, k2, …)")
            } else if linkKey == nil {
                section.report("previous_link_key_id", "a previous link key needs the current one: set HELPDESK_APPROVALS_LINK_KEY " +
                               "or approvals.link_key_file")
            }
        case (nil, nil):
            break
        }
        if previousLinkKeyID == nil || previousLinkKey == nil { previousLinkKey = nil }
    }

    static let keyIDRule = "expected a key id of 1 to 32 letters, digits, - or _, ending in a letter or digit (such as k1)"

    /// Ids go into `id.payload.sig` tokens and, by their last character, into email addresses.
    static func isValidKeyID(_ id: String) -> Bool {
        guard (1...32).contains(id.count), let last = id.last, last.isASCII, last.isLetter || last.isNumber else { return false }
        return id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
