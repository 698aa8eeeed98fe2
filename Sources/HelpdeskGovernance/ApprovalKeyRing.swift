import Crypto
import Foundation
import HelpdeskConfig
import HelpdeskCore

/// The keys approval links and reply addresses are signed with: the current one, which signs
/// everything new, and during a rotation the previous one, which only verifies. Each has an id
/// that new tokens carry, so a token names the key it needs.
public struct ApprovalKeyRing: Sendable {
    public struct Key: Sendable {
        public let id: String
        let symmetric: SymmetricKey

        public init(id: String, secret: Secret) {
            self.id = id
            self.symmetric = SymmetricKey(data: Array(secret.reveal().utf8))
        }

        /// What a reply address carries instead of the whole id, to stay within 64 characters.
        var replyPrefix: Character { id.lowercased().last ?? "_" }
    }

    public let current: Key
    public let previous: Key?

    public init(current: Key, previous: Key? = nil) {
        self.current = current
        self.previous = previous
    }

    /// The ring `approvals:` describes, or `nil` without `approvals.link_key`.
    public init?(_ settings: ApprovalSettings) {
        guard let key = settings.linkKey else { return nil }
        var previous: Key?
        if let id = settings.previousLinkKeyID, let secret = settings.previousLinkKey { previous = Key(id: id, secret: secret) }
        self.init(current: Key(id: settings.linkKeyID, secret: key), previous: previous)
    }

    /// The key a token names; `nil` (a forgery, or a key retired since) for any other id.
    func key(id: Substring) -> Key? {
        if id == current.id { return current }
        if let previous, id == previous.id { return previous }
        return nil
    }

    func key(replyPrefix: Character) -> Key? {
        if replyPrefix == current.replyPrefix { return current }
        if let previous, replyPrefix == previous.replyPrefix { return previous }
        return nil
    }
}
