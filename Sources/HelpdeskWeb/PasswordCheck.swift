import Foundation
import HelpdeskConfig
import HelpdeskCore

/// Checks a sign-in's user name and password against the users directory's `password_argon2id` hashes.
///
/// Every attempt costs one Argon2id verification, whether the name exists or not: an unknown name, or a
/// person without a password, is checked against a dummy hash with the parameters most of the directory's
/// hashes use, whose preimage nobody knows, so the time taken does not say who exists. ``verify(user:password:)``
/// blocks for the whole computation (about 100 ms and 64 MiB at `hash-key`'s parameters): run it on the
/// server's hashing threads (`HashWorkerPool`), never on Swift's cooperative pool.
///
/// ```swift
/// let passwords = PasswordCheck(directory: configuration.directory)
/// let result = await pool.run { passwords.verify(user: name, password: password) }  // .success(person?) or a refusal
/// ```
public struct PasswordCheck: Sendable {
    /// Longer passwords are refused without hashing (`hash-key` takes at most 4096 bytes, too).
    public static let maximumPasswordBytes = 4096

    private let directory: UserDirectory
    private let dummy: Argon2idHash

    public init(directory: UserDirectory) {
        self.directory = directory
        dummy = Self.dummyHash(like: directory.users.compactMap(\.passwordHash))
    }

    /// The person `user` names: the name exactly, else the one name equal to it in any case (ids are
    /// names, not emails, here: the throttle counts per name as typed).
    public func person(named user: String) -> UserDirectory.User? {
        WebIdentity.match(user, in: directory.users, by: { $0.name })
    }

    /// The person signed in by this name and password, or `nil` (for an unknown name and a wrong password
    /// alike, after the same amount of work). Blocks: see the type's documentation.
    public func verify(user: String, password: String) -> UserDirectory.User? {
        let secret = Array(password.utf8)
        guard !secret.isEmpty, secret.count <= Self.maximumPasswordBytes,
              user.utf8.count <= WebSessions.maximumUserBytes else { return nil }  // the same for every name
        guard let person = person(named: user), let hash = person.passwordHash else {
            _ = dummy.verify(secret)
            return nil
        }
        return hash.verify(secret) ? person : nil
    }

    /// A hash of random bytes (no password hashes to it) with the parameters most of `hashes` have, else
    /// `hash-key`'s: checking a password against it costs what checking a real one does.
    static func dummyHash(like hashes: [Argon2idHash]) -> Argon2idHash {
        var counts: [String: (count: Int, hash: Argon2idHash)] = [:]
        for hash in hashes {
            let parameters = "\(hash.memoryKiB),\(hash.iterations),\(hash.parallelism)"
            counts[parameters] = ((counts[parameters]?.count ?? 0) + 1, hash)
        }
        let common = counts.values.max { $0.count < $1.count }?.hash
        let m = common?.memoryKiB ?? 65_536, t = common?.iterations ?? 3, p = common?.parallelism ?? 4
        let encoded = "$argon2id$v=19$m=\(m),t=\(t),p=\(p)$\(phcBase64(randomBytes(count: 16)))$\(phcBase64(randomBytes(count: 32)))"
        do {
            return try Argon2idHash(encoded: encoded)
        } catch {
            // Parameters taken from a hash that parsed, or the defaults: this string always parses.
            preconditionFailure("the dummy password hash does not parse: \(error)")
        }
    }

    /// Unpadded standard base64, as PHC strings carry salt and hash.
    private static func phcBase64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }
}
