import HelpdeskCore

/// `api:` — bearer tokens for the REST API under `/api/v1`, each naming the principal it acts as.
///
/// A token is given as itself (`HELPDESK_API_<NAME>_TOKEN` or `token_file`) or, so that a leaked
/// configuration leaks no credential, as a hash: `token_sha256` (64 hex digits, for generated
/// high-entropy tokens) or `token_argon2id` (a PHC string from `helpdesk hash-key`). Exactly one form
/// per token.
public struct APISettings: Sendable {
    public struct Token: Sendable {
        /// What the server keeps of a token.
        public enum Credential: Sendable {
            /// The token itself, from the environment or a file.
            case plaintext(Secret)
            /// `token_sha256`: the SHA-256 of the token (32 bytes), compared in constant time.
            case sha256([UInt8])
            /// `token_argon2id`: checked like a service account's key, off the cooperative pool.
            case argon2id(Argon2idHash)
        }

        public var principal: String
        public var credential: Credential

        public init(principal: String, credential: Credential) {
            self.principal = principal
            self.credential = credential
        }
    }

    public var tokens: [Token] = []
    /// Diagnoses asked for through the API running at once; one more is refused with 503 rather
    /// than queued, so callers cannot pile up work the server runs long after they gave up.
    public var maxConcurrentDiagnoses = 2

    public init() {}

    init(_ section: ConfigSection) {
        maxConcurrentDiagnoses = section.int("max_concurrent_diagnoses", default: maxConcurrentDiagnoses, range: 1...64)
        for (principal, entry) in section.namedSections("tokens") {
            // A token named service:srebot would act as the alert bot wherever a policy names it.
            if let problem = UserDirectory.principalNameProblem(principal) {
                entry.reportSection(problem)
                continue
            }
            if let credential = Self.credential(of: entry, principal: principal) {
                tokens.append(Token(principal: principal, credential: credential))
            }
            entry.finish()
        }
        section.finish()
    }

    /// The one form `entry` gives its token in, or `nil` after reporting why there is none (or more than one).
    private static func credential(of entry: ConfigSection, principal: String) -> Token.Credential? {
        let variable = "HELPDESK_API_\(AlertmanagerSettings.environmentName(principal))_TOKEN"
        let plaintext = entry.secret("token", environment: variable)
        let fromFile = entry.contains("token_file")
        let digest = entry.optionalString("token_sha256")
        let encoded = entry.optionalString("token_argon2id")
        var forms: [String] = []
        if plaintext != nil || fromFile { forms.append(fromFile ? "token_file" : variable) }
        if digest != nil { forms.append("token_sha256") }
        if encoded != nil { forms.append("token_argon2id") }
        guard forms.count == 1 else {
            if forms.isEmpty {
                entry.report("token_file", "required: the token for \(principal), from \(variable) or token_file, "
                             + "or its hash as token_sha256 or token_argon2id (`helpdesk hash-key`)")
            } else {
                entry.report(encoded != nil ? "token_argon2id" : "token_sha256",
                             "\(forms.joined(separator: " and ")) each give the token of \(principal); keep exactly one")
            }
            return nil
        }
        if let plaintext { return .plaintext(plaintext) }
        if let digest {
            guard let bytes = hexBytes(digest), bytes.count == 32 else {
                entry.report("token_sha256", "expected 64 hex digits (the token's SHA-256, as `helpdesk hash-key --sha256` "
                             + "prints it), got \(digest.count) characters")
                return nil
            }
            return .sha256(bytes)
        }
        if let encoded {
            do {
                return .argon2id(try Argon2idHash(encoded: encoded))
            } catch {
                entry.report("token_argon2id", "not an Argon2id hash (\(error.message)); generate one with `helpdesk hash-key`")
                return nil
            }
        }
        return nil  // an unreadable token_file: reported already
    }

    /// Bytes of an even-length hex string, either case; `nil` at the first other character.
    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
