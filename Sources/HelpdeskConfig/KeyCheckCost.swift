import HelpdeskCore

/// What one unknown bearer key costs the server: a pass over every Argon2id hash (`token_argon2id`
/// tokens and service accounts) that stops only at a match, so a wrong key pays for all of them.
/// Measured in KiB·passes (m·t), against one hash of `helpdesk hash-key`'s parameters.
enum KeyCheckCost {
    /// One hash with `helpdesk hash-key`'s parameters (m=65536 KiB, t=3).
    static let defaultHash = 65_536 * 3
    /// More than this many default hashes' worth per unknown key is warned about.
    static let advisedMultiple = 4

    /// The warning for these candidates, or `nil` when one pass over them is within the advice.
    static func warning(tokens: [APISettings.Token], accounts: [UserDirectory.ServiceAccount]) -> String? {
        var tokenHashes: [Argon2idHash] = []
        for token in tokens {
            if case .argon2id(let hash) = token.credential { tokenHashes.append(hash) }
        }
        let hashes = tokenHashes + accounts.map(\.keyHash)
        let total = hashes.reduce(0) { $0 + Int($1.memoryKiB) * Int($1.iterations) }
        guard total > advisedMultiple * defaultHash else { return nil }
        let tenths = (total * 10 + defaultHash / 2) / defaultHash
        var kinds: [String] = []
        if !tokenHashes.isEmpty { kinds.append(counted(tokenHashes.count, "token_argon2id token")) }
        if !accounts.isEmpty { kinds.append(counted(accounts.count, "service account")) }
        return "an unknown API key is checked against every Argon2id hash: here \(kinds.joined(separator: " and ")), "
            + "\(tenths / 10).\(tenths % 10) times the cost of one default hash (m=65536 KiB, t=3) together, so each wrong key "
            + "from any address costs all \(hashes.count) checks; more than \(advisedMultiple) times is advised against: "
            + "give callers token_sha256 tokens made with `helpdesk hash-key --generate --sha256` (no hashing), "
            + "or hashes with a lower m or t"
    }

    private static func counted(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)\(count == 1 ? "" : "s")"
    }
}
