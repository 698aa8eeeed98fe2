/// The service principals this project runs itself. Their ids are reserved: an API account imported
/// under one of them would act as the bot wherever a policy names `service:srebot`.
///
/// ```swift
/// BuiltInServices.reserved.contains("srebot")  // true
/// ```
public enum BuiltInServices {
    /// The alert bot: alerts' diagnoses are decided as `service:srebot`.
    public static let alertBot = "srebot"
    /// The planned security bot (issue 17).
    public static let securityBot = "secbot"
    /// The planned governance bot (issue 17).
    public static let governanceBot = "govbot"

    /// Every reserved id with what it stands for, worded for a message: one table, so an id cannot be
    /// reserved without a message or described without being reserved.
    private static let descriptions: [String: String] = [
        alertBot: "this project's built-in alert bot",
        securityBot: "reserved for this project's built-in security bot",
        governanceBot: "reserved for this project's built-in governance bot",
    ]

    /// Every id no imported service account may take (in lower case; see ``role(of:)``).
    public static var reserved: Set<String> { Set(descriptions.keys) }

    /// What a reserved id stands for ("this project's built-in alert bot"); `nil` for an id that is not
    /// reserved. Compared without case, so `SrEbot` cannot pass for the bot in an audit log either.
    public static func role(of id: String) -> String? { descriptions[id.lowercased()] }
}
