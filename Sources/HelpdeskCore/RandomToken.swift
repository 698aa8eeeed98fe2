/// Random lowercase letters and digits, without look-alikes (no l, o, 0, 1): for ids people read
/// out loud (`apr_…`, `inc_…`, `evt_…`). Uses the system's secure random generator.
public func randomToken(length: Int) -> String {
    // 32 symbols: five random bits each, so one 64-bit draw gives twelve without bias (a draw per
    // symbol was a getrandom call each, inside the store's single writer).
    var generator = SystemRandomNumberGenerator()
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
