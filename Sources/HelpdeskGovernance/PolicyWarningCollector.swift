/// What a policy file says that loads but likely does not mean what it says, collected while
/// ``PolicyLoader`` decodes it: the decoding types reach it through the decoder's `userInfo` and
/// record each warning at its coding path, which the loader turns into a line. Decoding a
/// ``PolicyFile`` directly collects nothing. Used on one thread, during one decode.
final class PolicyWarningCollector {
    static let key = CodingUserInfoKey(rawValue: "helpdesk.policy-warnings")!

    /// Every tool name this server has, for `match.tool` and `match.tool_pattern`; `nil`: not checked.
    let knownTools: Set<String>?
    private(set) var warnings: [(path: [any CodingKey], message: String)] = []

    init(knownTools: Set<String>?) {
        self.knownTools = knownTools
    }

    func add(_ message: String, at path: [any CodingKey]) {
        warnings.append((path, message))
    }
}

extension Decoder {
    /// The loader's collector, when the loader is decoding.
    var policyWarnings: PolicyWarningCollector? {
        userInfo[PolicyWarningCollector.key] as? PolicyWarningCollector
    }
}
