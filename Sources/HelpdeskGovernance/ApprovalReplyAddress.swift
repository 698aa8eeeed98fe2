import Crypto
import Foundation
import HelpdeskCore

/// Tokenized Reply-To addresses for approval emails: `approvals+{id}.{token}@{reply_domain}`, the
/// token an HMAC of the approval id and the approver (under the link key), short enough for an
/// address's 64-character local part. A reply to it can only decide for that approver.
///
/// The token is one character naming the key (the last character of its key id, so `k1` gives
/// `1`) and 26 of base32 HMAC. Tokens from before key ids (26 characters, no prefix) are checked
/// against the current key, so replies to emails already sent still count.
public struct ApprovalReplyAddress: Sendable {
    let keys: ApprovalKeyRing
    let domain: String

    public init(keys: ApprovalKeyRing, domain: String) {
        self.keys = keys
        self.domain = domain.lowercased()
    }

    /// One key, with the default id `k1` and no previous key.
    public init(key: Secret, domain: String) {
        self.init(keys: ApprovalKeyRing(current: .init(id: "k1", secret: key)), domain: domain)
    }

    public func address(approvalID: String, approver: String) -> String {
        "approvals+\(approvalID).\(token(approvalID: approvalID, approver: approver))@\(domain)"
    }

    func token(approvalID: String, approver: String) -> String {
        let key = keys.current
        return String(key.replyPrefix) + Self.code("reply|\(key.id)|\(approvalID)|\(approver)", key: key)
    }

    private static let codeLength = 26

    private static func code(_ message: String, key: ApprovalKeyRing.Key) -> String {
        base32(Data(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key.symmetric)).prefix(16))
    }

    /// What `token` should be for `approver`: under the key its prefix names, or the current key's
    /// old form; `nil` when it names no key of ours.
    private func expected(_ token: String, approvalID: String, approver: String) -> String? {
        switch token.count {
        case Self.codeLength + 1:
            guard let prefix = token.first, let key = keys.key(replyPrefix: prefix) else { return nil }
            return String(prefix) + Self.code("reply|\(key.id)|\(approvalID)|\(approver)", key: key)
        case Self.codeLength:
            return Self.code("reply|\(approvalID)|\(approver)", key: keys.current)
        default:
            return nil
        }
    }

    /// The approval id and token in a recipient address of ours, if it is one.
    public func parse(_ recipient: String) -> (approvalID: String, token: String)? {
        let address = recipient.lowercased()
        guard let at = address.lastIndex(of: "@"), address[address.index(after: at)...] == domain[...],
              address.hasPrefix("approvals+") else { return nil }
        let local = address[address.index(address.startIndex, offsetBy: 10)..<at]
        guard let dot = local.lastIndex(of: ".") else { return nil }
        return (String(local[..<dot]), String(local[local.index(after: dot)...]))
    }

    /// Which of `candidates` the token was issued to.
    public func approver(for token: String, approvalID: String, candidates: [String]) -> String? {
        candidates.first { candidate in
            expected(token, approvalID: approvalID, approver: candidate).map { constantTimeEquals(Array($0.utf8), Array(token.utf8)) } ?? false
        }
    }

    static func base32(_ data: Data) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var output = ""
        var buffer = 0
        var bits = 0
        for byte in data {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return output
    }
}
