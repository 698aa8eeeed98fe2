/// Whether your own MTA vouched for the sender's domain, read from the topmost
/// `Authentication-Results` header only.
///
/// RFC 8601 §5: your MTA removes headers claiming its authserv-id that arrive from outside, and
/// adds its own above everything else. So only the first such header in the block is yours; any
/// header below it was written by whoever sent the message, and is ignored whatever it says.
///
/// Passing means `dmarc=pass` with `header.from` equal to the sender's domain, or `dkim=pass` with
/// a `header.d` aligned to it. Alignment is DMARC's *relaxed* mode (RFC 7489 §3.1.1, its default):
/// the sender's domain equals `header.d` or is a subdomain of it (`eu.example.org` signed by
/// `example.org`). A single-label `header.d` (`org`) aligns with nothing. `spf=pass` alone does not
/// pass: SPF authenticates the envelope sender, not the `From:` that names the approver.
public enum SenderAuthentication {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case noHeader
        case foreignAuthservID(String)
        case unreadable(AuthenticationResultsError)
        case notPassing

        public var description: String {
            switch self {
            case .noHeader: "no Authentication-Results header"
            case .foreignAuthservID(let id): "the topmost Authentication-Results is from \(AuditField.cap(id, bytes: 80)), not ours"
            case .unreadable(let error): "\(error)"
            case .notPassing: "no dmarc=pass or aligned dkim=pass for the sender's domain"
            }
        }
    }

    /// `nil` when the topmost `Authentication-Results` is ours and passes for `senderDomain`.
    public static func check(_ mail: InboundMail, senderDomain: String, authservID: String) -> Failure? {
        guard let topmost = mail.all("Authentication-Results").first else { return .noHeader }
        let results: AuthenticationResults
        do {
            results = try AuthenticationResults(parsing: topmost)
        } catch {
            return .unreadable(error)
        }
        guard results.authservID.lowercased() == authservID.lowercased() else { return .foreignAuthservID(results.authservID) }
        return passes(results, senderDomain: senderDomain) ? nil : .notPassing
    }

    public static func passes(_ results: AuthenticationResults, senderDomain: String) -> Bool {
        let sender = normalize(senderDomain)
        guard !sender.isEmpty else { return false }
        return results.results.contains { result in
            guard result.result == "pass" else { return false }
            switch result.method {
            case "dmarc":
                return result.property("header", "from").map { sameBytes(normalize($0), sender) } ?? false
            case "dkim":
                guard let signer = result.property("header", "d").map(normalize), signer.contains(".") else { return false }
                return sameBytes(sender, signer) || sender.utf8.reversed().starts(with: ("." + signer).utf8.reversed())
            default:
                return false
            }
        }
    }

    /// Byte for byte: Swift's `==` would also equate canonically equivalent Unicode spellings.
    static func sameBytes(_ lhs: String, _ rhs: String) -> Bool { lhs.utf8.elementsEqual(rhs.utf8) }

    /// Domains compare exactly, case-insensitively, without a trailing dot.
    static func normalize(_ domain: String) -> String {
        var lower = domain.lowercased()
        if lower.hasSuffix(".") { lower.removeLast() }
        return lower
    }

    /// The domain part of an address (after the last `@`), or "" when there is none.
    public static func domain(of address: String) -> String {
        guard let at = address.lastIndex(of: "@") else { return "" }
        return String(address[address.index(after: at)...])
    }
}
