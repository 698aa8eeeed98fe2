import Foundation

/// Any JSON value, Sendable, for tool results and bundle files whose shape is data, not a type.
public enum JSONValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            // Whole numbers print without ".0" so PIDs and counts read naturally.
            if value.rounded() == value, abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses JSON text.
    public init(parsing text: String) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    /// Compact JSON with sorted keys: byte for byte what `JSONEncoder` with `.sortedKeys` and
    /// `.withoutEscapingSlashes` writes (the unkeyed audit chain hashes this text), written by hand
    /// because going through the encoder was a tenth of the webhooks' CPU. Fractional numbers
    /// still go through the encoder; a value holding a non-finite number is `null`, as there.
    public var jsonText: String {
        var text = ""
        text.reserveCapacity(64)
        return Self.write(self, into: &text) ? text : "null"
    }

    /// `false` when the value holds a number JSON cannot represent.
    private static func write(_ value: JSONValue, into text: inout String) -> Bool {
        switch value {
        case .null: text += "null"
        case .bool(let value): text += value ? "true" : "false"
        case .number(let value):
            guard value.isFinite else { return false }
            if value.rounded() == value, abs(value) < 1e15 {
                text += String(Int64(value))
            } else {
                let encoder = JSONEncoder()
                guard let data = try? encoder.encode(value) else { return false }
                text += String(decoding: data, as: UTF8.self)
            }
        case .string(let value): writeString(value, into: &text)
        case .array(let values):
            text += "["
            for (index, element) in values.enumerated() {
                if index > 0 { text += "," }
                guard write(element, into: &text) else { return false }
            }
            text += "]"
        case .object(let object):
            text += "{"
            // Sorted as pairs: sorting the keys alone looked each value up again by hashing its key.
            for (index, member) in object.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
                if index > 0 { text += "," }
                writeString(member.key, into: &text)
                text += ":"
                guard write(member.value, into: &text) else { return false }
            }
            text += "}"
        }
        return true
    }

    /// `value` as a JSON string literal, quotes included: what ``jsonText`` writes for `.string(value)`.
    public static func stringLiteral(_ value: String) -> String {
        var text = ""
        text.reserveCapacity(value.utf8.count + 2)
        writeString(value, into: &text)
        return text
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Works on UTF-8 bytes: every byte that needs an escape is ASCII, and bytes of multi-byte
    /// characters are all ≥ 0x80, so text without one is appended whole (walking it by Unicode
    /// scalars was most of the audit log's CPU).
    private static func writeString(_ value: String, into text: inout String) {
        text += "\""
        var value = value
        let escaped: [UInt8]? = value.withUTF8 { bytes in
            guard bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 16)
            for byte in bytes {
                let escape: UInt8
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): escape = byte
                case UInt8(ascii: "\n"): escape = UInt8(ascii: "n")
                case UInt8(ascii: "\r"): escape = UInt8(ascii: "r")
                case UInt8(ascii: "\t"): escape = UInt8(ascii: "t")
                case 0x08: escape = UInt8(ascii: "b")
                case 0x0C: escape = UInt8(ascii: "f")
                case ..<0x20: escape = UInt8(ascii: "u")
                default:
                    out.append(byte)
                    continue
                }
                out.append(UInt8(ascii: "\\"))
                out.append(escape)
                if escape == UInt8(ascii: "u") {
                    out.append(UInt8(ascii: "0"))
                    out.append(UInt8(ascii: "0"))
                    out.append(hexDigits[Int(byte >> 4)])
                    out.append(hexDigits[Int(byte & 0xF)])
                }
            }
            return out
        }
        if let escaped {
            text += String(decoding: escaped, as: UTF8.self)
        } else {
            text += value
        }
        text += "\""
    }

    /// Indented JSON with sorted keys, for files people read.
    public var prettyJSONText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): String(value)
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .string(let value): value
        case .array, .object: jsonText
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// Follows a dotted path such as `by_state.active`.
    public func value(at path: String) -> JSONValue? {
        path.split(separator: ".").reduce(Optional(self)) { current, key in current?[String(key)] }
    }

    public var doubleValue: Double? {
        switch self {
        case .number(let value): value
        case .string(let value): Double(value)
        case .bool(let value): value ? 1 : 0
        default: nil
        }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }
}
