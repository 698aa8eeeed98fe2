import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random lowercase letters and digits, without look-alikes (no l, o, 0, 1): for ids people read
/// out loud (`apr_…`, `inc_…`, `evt_…`). Uses the system's secure random generator.
public func randomToken(length: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    return randomToken(length: length, using: &generator)
}

/// ``randomToken(length:)`` drawn from `generator` (``PooledSystemRandom`` for ids made in bulk).
public func randomToken(length: Int, using generator: inout some RandomNumberGenerator) -> String {
    // 32 symbols: five random bits each, so one 64-bit draw gives twelve without bias (a draw per
    // symbol was a getrandom call each, inside the store's single writer).
    var bytes: [UInt8] = []
    bytes.reserveCapacity(max(length, 0))
    var bits: UInt64 = 0
    var left = 0
    for _ in 0..<max(length, 0) {
        if left == 0 {
            bits = generator.next()
            left = 12
        }
        bytes.append(tokenAlphabet[Int(bits & 0x1F)])
        bits >>= 5
        left -= 1
    }
    return String(decoding: bytes, as: UTF8.self)
}

private let tokenAlphabet: [UInt8] = Array("abcdefghijkmnpqrstuvwxyz23456789".utf8)

/// `count` bytes from the system's secure random generator (salts, generated keys).
public func randomBytes(count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes: [UInt8] = []
    bytes.reserveCapacity(max(count, 0))
    while bytes.count < count {
        // Eight bytes a draw, little end first.
        var word: UInt64 = generator.next()
        for _ in 0..<min(8, count - bytes.count) {
            bytes.append(UInt8(truncatingIfNeeded: word))
            word >>= 8
        }
    }
    return bytes
}

/// The system's secure random generator, read 256 bytes at a time: every audit event's id draws one
/// word inside the store's single writer, and a getrandom call per word was a tenth of that event's
/// cost there. The words are the system's own (no generator of ours stretches them), each handed out
/// once. For ids only: up to 31 words wait in memory, so keys and passwords draw from the system directly.
public struct PooledSystemRandom: RandomNumberGenerator {
    private static let pool = Mutex(Pool())

    private struct Pool {
        static let capacity = 32  // getentropy's limit is 256 bytes
        var words = [UInt64](repeating: 0, count: capacity)
        var next = capacity

        mutating func take() -> UInt64 {
            if next == Self.capacity {
                let filled = words.withUnsafeMutableBytes { getentropy($0.baseAddress, $0.count) == 0 }
                if !filled {
                    var system = SystemRandomNumberGenerator()
                    for index in words.indices { words[index] = system.next() }
                }
                next = 0
            }
            defer {
                words[next] = 0  // handed out: not kept in memory for whoever reads it next
                next += 1
            }
            return words[next]
        }
    }

    public init() {}

    public mutating func next() -> UInt64 {
        Self.pool.withLock { $0.take() }
    }
}
