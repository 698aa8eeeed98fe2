import Foundation

/// Which stored alert an action is about. The same fingerprint (a hash of the labels) can reach the
/// bot through several receivers, each with its own Alertmanager, so a fingerprint alone may name
/// several alerts: `receiver` picks one, and `startsAt` one firing episode of it.
///
/// Written `FINGERPRINT@RECEIVER` by people (`/helpdesk silence 3f2a…@team-db 1h`); a button carries all three.
public struct AlertReference: Sendable, Hashable, Codable, CustomStringConvertible {
    public var fingerprint: String
    public var receiver: String?
    public var startsAt: String?

    public init(fingerprint: String, receiver: String? = nil, startsAt: String? = nil) {
        self.fingerprint = fingerprint
        self.receiver = receiver
        self.startsAt = startsAt
    }

    /// Reads `FINGERPRINT` or `FINGERPRINT@RECEIVER`; `nil` when either part is empty. Fingerprints are
    /// hexadecimal, so the first `@` ends it (a receiver's name may hold another).
    public init?(text: String) {
        guard let at = text.firstIndex(of: "@") else {
            guard !text.isEmpty else { return nil }
            self.init(fingerprint: text)
            return
        }
        let fingerprint = String(text[..<at]), receiver = String(text[text.index(after: at)...])
        guard !fingerprint.isEmpty, !receiver.isEmpty else { return nil }
        self.init(fingerprint: fingerprint, receiver: receiver)
    }

    /// `FINGERPRINT@RECEIVER`, or the fingerprint alone when no receiver is named.
    public var description: String {
        receiver.map { "\(fingerprint)@\($0)" } ?? fingerprint
    }
}
