import Crypto
import Foundation
import HelpdeskCore

/// Tokenized Reply-To addresses for approval emails: `approvals+{id}.{token}@{reply_domain}`, the
/// token an HMAC of the approval id and the approver (under the link key), short enough for an
/// address's 64-character local part. A reply to it can only decide for that approver.
public struct ApprovalReplyAddress: Sendable {
    let key: SymmetricKey
    let domain: String

    public init(key: Secret, domain: String) {
        self.key = SymmetricKey(data: Array(key.reveal().utf8))
        self.domain = domain.lowercased()
    }

    public func address(approvalID: String, approver: String) -> String {
        "approvals+\(approvalID).\(token(approvalID: approvalID, approver: approver))@\(domain)"
    }

    func token(approvalID: String, approver: String) -> String {
        let code = Data(HMAC<SHA256>.authenticationCode(for: Data("reply|\(approvalID)|\(approver)".utf8), using: key)).prefix(16)
        return Self.base32(code)
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
        candidates.first { constantTimeEquals(Array(self.token(approvalID: approvalID, approver: $0).utf8), Array(token.utf8)) }
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
