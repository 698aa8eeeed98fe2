import Foundation

/// How a bearer key is read from `Authorization: Bearer KEY`: whitespace at its ends (Unicode spaces
/// and tabs, Foundation's `CharacterSet.whitespaces`) is not part of it. One rule for the server and
/// `helpdesk hash-key`, so a key whose hash is stored is always the key the server compares.
///
/// ```swift
/// BearerKeyText.trimmed(" k3y\u{00A0}")  // "k3y"
/// ```
public enum BearerKeyText {
    /// The key the server compares, for the text after `Bearer `.
    public static func trimmed(_ text: some StringProtocol) -> String {
        text.trimmingCharacters(in: .whitespaces)
    }
}
