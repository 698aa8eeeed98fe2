/// A secret value (token, password, signing key) that never prints itself.
///
/// `description` and `debugDescription` are redacted so a secret interpolated into a log line,
/// an error or a message shows `<redacted>`; code that needs the value reads `reveal()`.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// The secret itself, for the one place that must send it (an HTTP header, an HMAC key).
    public func reveal() -> String { value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
