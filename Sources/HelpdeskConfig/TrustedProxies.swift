import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `server.trusted_proxies`: addresses or CIDR ranges of the reverse proxies in front of the
/// server. Only their `X-Forwarded-For` is believed; anyone else could write any address there.
public struct TrustedProxies: Sendable, Equatable {
    struct Range: Sendable, Equatable {
        var bytes: [UInt8]
        var prefix: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var left = prefix
            for (a, b) in zip(address, bytes) {
                if left <= 0 { return true }
                let mask: UInt8 = left >= 8 ? 0xFF : ~(0xFF >> UInt8(left))
                if a & mask != b & mask { return false }
                left -= 8
            }
            return true
        }
    }

    var ranges: [Range] = []

    public init() {}

    /// No range: nobody is trusted.
    public var isEmpty: Bool { ranges.isEmpty }

    /// Parses `10.0.0.0/8`, `192.0.2.7`, `fd00::/8`; `nil` for anything else.
    static func range(_ text: String) -> Range? {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let first = parts.first, let bytes = Self.bytes(first) else { return nil }
        let prefix = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
        guard let prefix, (0...(bytes.count * 8)).contains(prefix) else { return nil }
        return Range(bytes: bytes, prefix: prefix)
    }

    init(ranges: [Range]) {
        self.ranges = ranges
    }

    /// The caller's address: the peer, unless the peer is a trusted proxy, in which case the
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
    public func clientAddress(peer: String, forwardedFor: [String]) -> String {
        guard !ranges.isEmpty, isTrusted(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { Self.hostPart(String($0)) }
        for hop in hops.reversed() where !hop.isEmpty {
            guard Self.bytes(hop) != nil else { return peer }  // garbage in the header: trust nothing after it
            if !isTrusted(hop) { return hop }
        }
        return peer
    }

    /// Whether `address` (a peer's, as text) is in one of the ranges; text that is no address is not.
    public func isTrusted(_ address: String) -> Bool {
        guard let bytes = Self.bytes(address) else { return false }
        return ranges.contains { $0.contains(bytes) }
    }

    /// One bucket per caller, however its address is written: IPv4-mapped IPv6 as IPv4, one
    /// bucket per IPv6 /64 (a single host usually owns a whole /64), text normalised.
    public static func bucketKey(_ address: String) -> String {
        guard let bytes = bytes(address) else { return address }
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return bytes.prefix(8).map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
    }

    /// `1.2.3.4:80`, `[2001:db8::1]:443` and `[::1]` as their address alone.
    public static func hostPart(_ hop: String) -> String {
        var text = hop.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            text = String(text[text.index(after: text.startIndex)..<close])
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            text = String(text[..<colon])
        }
        return text
    }

    /// The address's bytes; an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, as a dual-stack
    /// listener sees IPv4 peers) as its IPv4 bytes.
    static func bytes(_ address: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes.prefix(10).allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes.suffix(4)) }
        return bytes
    }
}
