import CArgon2

/// An Argon2id hash in the PHC string format that aiHelpDesk's users files and `helpdesk hash-key`
/// write: `$argon2id$v=19$m=65536,t=3,p=4$SALT$HASH`, salt and hash in unpadded standard base64.
///
/// Parsing refuses what a verification should not trust or cannot afford: only Argon2id version 19,
/// a salt of at least 8 bytes, a hash of 16 to 64 bytes, and parameters within bounds (memory 8·p to
/// 262144 KiB, 1 to 10 passes, 1 to 16 lanes), so one verification costs at most 256 MiB and ten
/// passes. Verifying is CPU- and memory-heavy (about 100 ms and 64 MiB at the defaults): call
/// ``verify(_:)`` on a dedicated thread, never on Swift's cooperative pool.
///
/// ```swift
/// let stored = try Argon2idHash(encoded: Argon2idHash.make(secret: Array("k3y".utf8)))
/// stored.verify(Array("k3y".utf8))    // true
/// stored.verify(Array("guess".utf8))  // false
/// ```
public struct Argon2idHash: Sendable, Equatable, CustomStringConvertible {
    /// Why a string is not an Argon2id hash this server verifies, worded for a configuration message.
    public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String

        public init(_ message: String) {
            self.message = message
        }

        public var description: String { message }
    }

    public static let maximumMemoryKiB: UInt32 = 262_144
    public static let iterationBounds: ClosedRange<UInt32> = 1...10
    public static let parallelismBounds: ClosedRange<UInt32> = 1...16
    public static let hashLengthBounds: ClosedRange<Int> = 16...64
    public static let minimumSaltLength = 8

    /// Memory in KiB (`m`).
    public let memoryKiB: UInt32
    /// Passes over the memory (`t`).
    public let iterations: UInt32
    /// Lanes (`p`); computed on one thread here, which gives the same hash.
    public let parallelism: UInt32
    let salt: [UInt8]
    let hash: [UInt8]

    /// Parses a PHC string; the error says what is wrong with it.
    public init(encoded: String) throws(FormatError) {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 2, fields[0].isEmpty else {
            throw FormatError("does not start with $argon2id$")
        }
        guard fields[1] == "argon2id" else {
            if fields[1] == "argon2i" || fields[1] == "argon2d" { throw FormatError("$\(fields[1])$ is not Argon2id") }
            throw FormatError("does not start with $argon2id$")
        }
        guard fields.count == 6 else {
            if fields.count == 5, !fields[2].hasPrefix("v=") {
                throw FormatError("no version field: only v=19 (Argon2 1.3) is accepted")
            }
            throw FormatError("expected $argon2id$v=19$m=…,t=…,p=…$SALT$HASH, found \(fields.count - 1) fields separated by $")
        }
        guard fields[2] == "v=19" else {
            throw FormatError("version \(fields[2]) is not accepted: only v=19 (Argon2 1.3)")
        }
        let parameters = try Self.parameters(fields[3])
        memoryKiB = parameters.m
        iterations = parameters.t
        parallelism = parameters.p
        salt = try Self.decode(fields[4], part: "salt")
        guard salt.count >= Self.minimumSaltLength else {
            throw FormatError("the salt is \(salt.count) bytes; at least \(Self.minimumSaltLength) are needed")
        }
        hash = try Self.decode(fields[5], part: "hash")
        guard Self.hashLengthBounds.contains(hash.count) else {
            throw FormatError("the hash is \(hash.count) bytes; expected \(Self.hashLengthBounds.lowerBound) to \(Self.hashLengthBounds.upperBound)")
        }
    }

    /// The canonical PHC string of this hash.
    public var encoded: String {
        "$argon2id$v=19$m=\(memoryKiB),t=\(iterations),p=\(parallelism)$\(Self.base64(salt))$\(Self.base64(hash))"
    }

    /// The parameters only: a hash is no secret, but logs have no use for it.
    public var description: String { "argon2id(m=\(memoryKiB),t=\(iterations),p=\(parallelism))" }

    /// Whether `secret` hashes to this hash under its own salt and parameters; the comparison takes
    /// the same time whichever byte differs. Blocks for the whole computation.
    public func verify(_ secret: some Collection<UInt8>) -> Bool {
        guard let computed = Self.raw(secret: Array(secret), salt: salt, memoryKiB: memoryKiB, iterations: iterations,
                                      parallelism: parallelism, length: hash.count)
        else { return false }
        return constantTimeEquals(computed, hash)
    }

    /// A new PHC string for `secret`: aiHelpDesk's hashapikey parameters (m=65536, t=3, p=4, a 16-byte
    /// random salt, a 32-byte hash), so its loader and this one read each other's hashes.
    public static func make(secret: some Collection<UInt8>) -> String {
        make(secret: secret, salt: randomBytes(count: 16), memoryKiB: 65_536, iterations: 3, parallelism: 4, length: 32)
    }

    /// A PHC string with explicit parameters (tests use small ones to stay fast).
    static func make(secret: some Collection<UInt8>, salt: [UInt8], memoryKiB: UInt32, iterations: UInt32,
                     parallelism: UInt32, length: Int) -> String {
        guard let hash = raw(secret: Array(secret), salt: salt, memoryKiB: memoryKiB, iterations: iterations,
                             parallelism: parallelism, length: length)
        else {
            // Only an allocation failure gets here with valid parameters: nothing sensible to return.
            preconditionFailure("libargon2 could not compute a hash (m=\(memoryKiB) KiB)")
        }
        return "$argon2id$v=19$m=\(memoryKiB),t=\(iterations),p=\(parallelism)$\(base64(salt))$\(base64(hash))"
    }

    // MARK: Internals

    private static func raw(secret: [UInt8], salt: [UInt8], memoryKiB: UInt32, iterations: UInt32,
                            parallelism: UInt32, length: Int) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: length)
        let status = secret.withUnsafeBytes { password in
            salt.withUnsafeBytes { saltBytes in
                output.withUnsafeMutableBytes { out in
                    helpdesk_argon2id_raw(iterations, memoryKiB, parallelism, password.baseAddress, password.count,
                                          saltBytes.baseAddress, saltBytes.count, out.baseAddress, out.count)
                }
            }
        }
        return status == 0 ? output : nil  // 0 is ARGON2_OK
    }

    /// `m=…,t=…,p=…`, each once (in any order, as aiHelpDesk reads them), within bounds.
    private static func parameters(_ field: String) throws(FormatError) -> (m: UInt32, t: UInt32, p: UInt32) {
        var values: [String: UInt32] = [:]
        for pair in field.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, ["m", "t", "p"].contains(parts[0]) else {
                throw FormatError("the parameters must be m=…,t=…,p=…; found \"\(pair)\"")
            }
            let name = String(parts[0])
            guard values[name] == nil else { throw FormatError("\(name) is given twice") }
            guard (1...10).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt32(parts[1]) else {
                throw FormatError("\(name)=\(parts[1]) is not a whole number")
            }
            values[name] = value
        }
        guard let m = values["m"], let t = values["t"], let p = values["p"] else {
            let missing = ["m", "t", "p"].filter { values[$0] == nil }.joined(separator: ", ")
            throw FormatError("the parameters lack \(missing): expected m=…,t=…,p=…")
        }
        guard parallelismBounds.contains(p) else {
            throw FormatError("p=\(p) is out of bounds: this server verifies p from \(parallelismBounds.lowerBound) to \(parallelismBounds.upperBound)")
        }
        guard iterationBounds.contains(t) else {
            throw FormatError("t=\(t) is out of bounds: this server verifies t from \(iterationBounds.lowerBound) to \(iterationBounds.upperBound)")
        }
        guard (8 * p ... maximumMemoryKiB).contains(m) else {
            throw FormatError("m=\(m) is out of bounds: this server verifies m from \(8 * p) (8·p) to \(maximumMemoryKiB) KiB")
        }
        return (m, t, p)
    }

    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Unpadded standard base64, as PHC strings carry it.
    static func base64(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var word: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { word |= UInt32(byte) << (16 - 8 * offset) }
            for position in 0...chunk.count { output.append(alphabet[Int((word >> (18 - 6 * position)) & 0x3F)]) }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes unpadded standard base64, naming the first character that is not part of it.
    private static func decode(_ text: String, part: String) throws(FormatError) -> [UInt8] {
        guard !text.isEmpty else { throw FormatError("the \(part) is empty") }
        // aiHelpDesk's example files carry `…$placeholder-replace-with-real-hash`: say so plainly (the
        // word is valid base64, so it is checked first; a real hash holds it with odds of 64^-11).
        if text.contains("placeholder") {
            throw FormatError("the \(part) is a placeholder (\"\(text.prefix(40))\"), not base64")
        }
        var bytes: [UInt8] = []
        var word: UInt32 = 0
        var bits = 0
        for (position, character) in text.utf8.enumerated() {
            guard let value = alphabet.firstIndex(of: character) else {
                let shown = character == UInt8(ascii: "=") ? "padding '='" : "'\(Character(Unicode.Scalar(character)))'"
                throw FormatError("the \(part) is not unpadded base64: \(shown) at character \(position + 1)")
            }
            word = (word << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: word >> UInt32(bits)))
                word &= (1 << UInt32(bits)) - 1
            }
        }
        guard text.utf8.count % 4 != 1 else { throw FormatError("the \(part) is not unpadded base64: its length is impossible") }
        return bytes
    }
}
