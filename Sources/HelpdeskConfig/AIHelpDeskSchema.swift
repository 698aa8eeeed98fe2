/// The schema `version` aiHelpDesk's policy and users files carry. Its loader accepts any string and
/// treats an empty one as "1"; this project reads version 1 and its minor versions, and refuses
/// others rather than guess what a later schema means.
public enum AIHelpDeskSchema {
    /// `nil` when `version` is one this project reads: missing or empty (taken as "1"), "1", "1.0" or
    /// "1.N"; otherwise the message to report at the `version` key.
    public static func versionProblem(_ version: String?) -> String? {
        guard let version, !version.isEmpty, version != "1" else { return nil }
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 2, parts[0] == "1", !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }) {
            return nil
        }
        return "version \"\(version)\" is not understood; this project reads aiHelpDesk schema version 1 (1, 1.0, 1.x)"
    }
}
