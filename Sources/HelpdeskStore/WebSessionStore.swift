import Foundation

/// Web channel sessions signed out before their cookie expires. A signed cookie cannot be recalled:
/// sign-out writes its session id here, and every replica refuses that id until it would have expired.
public protocol WebSessionStore: Sendable {
    /// Ends `sessionID` (kept until `expiresAt`, when its cookie stops counting anyway); prunes ended
    /// sessions whose cookies expired before `now`, so the table holds only the sign-outs of one TTL.
    func end(sessionID: String, expiresAt: Date, now: Date) async throws
    func isEnded(sessionID: String) async throws -> Bool
}
