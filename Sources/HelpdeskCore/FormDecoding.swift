/// Why a form body could not be decoded.
public enum FormDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A `%` not followed by two hex digits, at this byte offset.
    case badPercentEscape(offset: Int)
    /// Decoded bytes that are not UTF-8 (in the name or value starting at this offset).
    case notUTF8(offset: Int)

    public var description: String {
        switch self {
        case .badPercentEscape(let offset): "bad percent-encoding at byte \(offset): % must be followed by two hex digits"
        case .notUTF8(let offset): "the field at byte \(offset) does not decode to UTF-8 text"
        }
    }
}

/// Decodes an `application/x-www-form-urlencoded` body (the last value wins for a repeated name).
///
/// Split on `&` and `=`, `+` as a space, percent-escapes decoded byte by byte: malformed input is
/// reported, never trapped on (Foundation's `URLComponents` traps on bad escapes).
public func decodeForm(_ body: some Collection<UInt8>) throws(FormDecodingError) -> [String: String] {
    var fields: [String: String] = [:]
    // A Slack command carries about fifteen fields: no rehashing while they are added.
    fields.reserveCapacity(16)
    var scratch: [UInt8] = []
    var start = 0
    let bytes = Array(body)
    while start <= bytes.count {
        let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.count
        if end > start {
            let pair = bytes[start..<end]
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            let name = try decodeComponent(pair[..<(equals ?? end)], offset: start, scratch: &scratch)
            var value = ""
            if let equals { value = try decodeComponent(pair[(equals + 1)...], offset: equals + 1, scratch: &scratch) }
            if !name.isEmpty { fields[name] = value }
        }
        start = end + 1
    }
    return fields
}

/// ``decodeForm(_:)`` for callers that treat a malformed body as an empty one (every field then
/// missing, so their own "required field" check answers 400).
public func parseForm(_ body: String) -> [String: String] {
    (try? decodeForm(body.utf8)) ?? [:]
}

/// `scratch` is reused across a body's components; a component without `%` or `+` skips it.
private func decodeComponent(_ component: ArraySlice<UInt8>, offset: Int, scratch: inout [UInt8]) throws(FormDecodingError) -> String {
    guard component.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
        return try text(component, offset: offset)
    }
    scratch.removeAll(keepingCapacity: true)
    var index = component.startIndex
    while index < component.endIndex {
        let byte = component[index]
        switch byte {
        case UInt8(ascii: "+"):
            scratch.append(UInt8(ascii: " "))
            index += 1
        case UInt8(ascii: "%"):
            guard let high = hexValue(at: index + 1, in: component), let low = hexValue(at: index + 2, in: component) else {
                throw .badPercentEscape(offset: index)
            }
            scratch.append(high << 4 | low)
            index += 3
        default:
            scratch.append(byte)
            index += 1
        }
    }
    return try text(scratch[...], offset: offset)
}

private func text(_ bytes: ArraySlice<UInt8>, offset: Int) throws(FormDecodingError) -> String {
    // ASCII is UTF-8 already, and String(decoding:) is much cheaper than the validating initializer
    // (a generic, unspecialized call), which only the rest needs.
    if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
    guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8(offset: offset) }
    return text
}

private func hexValue(at index: Int, in bytes: ArraySlice<UInt8>) -> UInt8? {
    guard index < bytes.endIndex else { return nil }
    switch bytes[index] {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return bytes[index] - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return bytes[index] - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return bytes[index] - UInt8(ascii: "A") + 10
    default: return nil
    }
}
