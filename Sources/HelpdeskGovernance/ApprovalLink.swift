import Crypto
import Foundation
import HelpdeskCore

/// Signed approval links: `{public_base_url}/approvals/{id}?t=TOKEN`, the token binding the
/// approval id, one approver and an expiry with HMAC-SHA256 under `approvals.link_key`.
///
/// Tokens are `KID.PAYLOAD.SIG`: the key id says which key of the ring signed them, so during a
/// rotation links signed with the previous key keep working until they expire. Tokens from before
/// key ids (`PAYLOAD.SIG`) verify against the current key. A link decides nothing until its page
/// is submitted.
public struct ApprovalLinks: Sendable {
    public struct Claims: Sendable, Equatable {
        public var approvalID: String
        public var approver: String
        public var expires: Date
    }

    public enum Refusal: Error, Sendable, Equatable {
        case malformed, forged, expired, otherApproval
    }

    let keys: ApprovalKeyRing

    public init(keys: ApprovalKeyRing) {
        self.keys = keys
    }

    /// One key, with the default id `k1` and no previous key.
    public init(key: Secret) {
        self.init(keys: ApprovalKeyRing(current: .init(id: "k1", secret: key)))
    }

    public func token(approvalID: String, approver: String, expires: Date) -> String {
        let key = keys.current
        let payload = Data("\(approvalID)|\(approver)|\(Int64(expires.timeIntervalSince1970))".utf8)
        return key.id + "." + Self.base64URL(payload) + "." + Self.base64URL(Self.code(payload, keyID: key.id, key: key.symmetric))
    }

    public func link(base: URL, approvalID: String, approver: String, expires: Date) -> URL {
        var components = URLComponents(url: base.appendingPathComponent("approvals").appendingPathComponent(approvalID), resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "t", value: token(approvalID: approvalID, approver: approver, expires: expires))]
        return components.url!
    }

    /// The claims of a token presented for `approvalID`, if it is genuine, current and for it.
    public func verify(_ token: String, approvalID: String, now: Date) throws(Refusal) -> Claims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3,
              let payload = Self.data(base64URL: String(parts[parts.count - 2])),
              let signature = Self.data(base64URL: String(parts[parts.count - 1])) else {
            throw .malformed
        }
        // An unknown key id is treated as a forgery: a retired key signs nothing any more.
        guard let key = self.key(for: parts) else { throw .forged }
        let expected = parts.count == 3 ? Self.code(payload, keyID: key.id, key: key.symmetric) : Self.legacyCode(payload, key: key.symmetric)
        guard constantTimeEquals(expected, signature) else { throw .forged }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 3, let seconds = Int64(fields[2]) else { throw .malformed }
        guard fields[0] == approvalID else { throw .otherApproval }
        let expires = Date(timeIntervalSince1970: TimeInterval(seconds))
        guard now < expires else { throw .expired }
        return Claims(approvalID: fields[0], approver: fields[1], expires: expires)
    }

    /// The anti-forgery value the confirmation page's form carries: bound to the page's own token,
    /// under the key that token names.
    public func csrf(for token: String) -> String {
        let key = key(for: token.split(separator: ".", omittingEmptySubsequences: false)) ?? keys.current
        return Self.base64URL(Data(HMAC<SHA256>.authenticationCode(for: Data("csrf|\(token)".utf8), using: key.symmetric)))
    }

    public func verifyCSRF(_ value: String, token: String) -> Bool {
        guard key(for: token.split(separator: ".", omittingEmptySubsequences: false)) != nil else { return false }
        return constantTimeEquals(Array(value.utf8), Array(csrf(for: token).utf8))
    }

    /// The key a token's parts name: its key id, or the current key for a token from before key ids.
    private func key(for parts: [Substring]) -> ApprovalKeyRing.Key? {
        switch parts.count {
        case 3: keys.key(id: parts[0])
        case 2: keys.current
        default: nil
        }
    }

    /// The key id is signed too, so a token cannot be moved to another key's id.
    private static func code(_ payload: Data, keyID: String, key: SymmetricKey) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data("\(keyID).".utf8) + payload, using: key))
    }

    private static func legacyCode(_ payload: Data, key: SymmetricKey) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: payload, using: key))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func data(base64URL text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
