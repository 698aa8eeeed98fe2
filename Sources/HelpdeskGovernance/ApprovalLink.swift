import Crypto
import Foundation
import HelpdeskCore

/// Signed approval links: `{public_base_url}/approvals/{id}?t=TOKEN`, the token binding the
/// approval id, one approver and an expiry with HMAC-SHA256 under `approvals.link_key`. Rotating
/// the key invalidates every link; a link decides nothing until its page is submitted.
public struct ApprovalLinks: Sendable {
    public struct Claims: Sendable, Equatable {
        public var approvalID: String
        public var approver: String
        public var expires: Date
    }

    public enum Refusal: Error, Sendable, Equatable {
        case malformed, forged, expired, otherApproval
    }

    let key: SymmetricKey

    public init(key: Secret) {
        self.key = SymmetricKey(data: Array(key.reveal().utf8))
    }

    public func token(approvalID: String, approver: String, expires: Date) -> String {
        let payload = "\(approvalID)|\(approver)|\(Int64(expires.timeIntervalSince1970))"
        return Self.base64URL(Data(payload.utf8)) + "." + Self.base64URL(Data(HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: key)))
    }

    public func link(base: URL, approvalID: String, approver: String, expires: Date) -> URL {
        var components = URLComponents(url: base.appendingPathComponent("approvals").appendingPathComponent(approvalID), resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "t", value: token(approvalID: approvalID, approver: approver, expires: expires))]
        return components.url!
    }

    /// The claims of a token presented for `approvalID`, if it is genuine, current and for it.
    public func verify(_ token: String, approvalID: String, now: Date) throws(Refusal) -> Claims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Self.data(base64URL: String(parts[0])), let signature = Self.data(base64URL: String(parts[1])) else {
            throw .malformed
        }
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: payload, using: key) else { throw .forged }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 3, let seconds = Int64(fields[2]) else { throw .malformed }
        guard fields[0] == approvalID else { throw .otherApproval }
        let expires = Date(timeIntervalSince1970: TimeInterval(seconds))
        guard now < expires else { throw .expired }
        return Claims(approvalID: fields[0], approver: fields[1], expires: expires)
    }

    /// The anti-forgery value the confirmation page's form carries: bound to the page's own token.
    public func csrf(for token: String) -> String {
        Self.base64URL(Data(HMAC<SHA256>.authenticationCode(for: Data("csrf|\(token)".utf8), using: key)))
    }

    public func verifyCSRF(_ value: String, token: String) -> Bool {
        constantTimeEquals(Array(value.utf8), Array(csrf(for: token).utf8))
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
