/// One fuzz target per parser that reads bytes from outside; each calls the public API the server
/// calls, ignores every error thrown, and must return normally whatever the input.
enum FuzzTarget: String, CaseIterable, Sendable {
    case form
    case slackInteraction = "slack-interaction"
    case slackSignature = "slack-signature"
    case alertmanager
    case mime
    case approvalToken = "approval-token"
    case policyYAML = "policy-yaml"
    case runbookYAML = "runbook-yaml"
    case configYAML = "config-yaml"

    func run(_ bytes: [UInt8]) {
        switch self {
        case .form: WebhookTargets.form(bytes)
        case .slackInteraction: WebhookTargets.slackInteraction(bytes)
        case .slackSignature: WebhookTargets.slackSignature(bytes)
        case .alertmanager: WebhookTargets.alertmanager(bytes)
        case .mime: MailTarget.mime(bytes)
        case .approvalToken: WebhookTargets.approvalToken(bytes)
        case .policyYAML: FileTargets.policy(bytes)
        case .runbookYAML: FileTargets.runbook(bytes)
        case .configYAML: FileTargets.configuration(bytes)
        }
    }
}

/// Carves header-like fields off the front of an input: each `line()` takes up to the next newline,
/// `rest` is what remains (the body). Seeds are written in the same layout.
struct FuzzInput {
    private(set) var rest: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) {
        rest = bytes[...]
    }

    /// The next line, without its newline; `nil` once the input is used up.
    mutating func line() -> String? {
        guard !rest.isEmpty else { return nil }
        let end = rest.firstIndex(of: UInt8(ascii: "\n")) ?? rest.endIndex
        let line = String(decoding: rest[..<end], as: UTF8.self)
        rest = end < rest.endIndex ? rest[(end + 1)...] : rest[end...]
        return line
    }

    /// The first byte, consumed: picks a mode (raw or self-signed) so one target covers both.
    mutating func mode() -> UInt8 {
        guard let first = rest.first else { return 0 }
        rest = rest.dropFirst()
        return first
    }
}
