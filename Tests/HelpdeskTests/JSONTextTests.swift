import Foundation
import HelpdeskCore
import Testing

/// `JSONValue.jsonText` is written by hand for speed, but the unkeyed audit chain hashes it: it must
/// stay byte for byte what `JSONEncoder` (sorted keys, slashes unescaped) writes, or old chains stop verifying.
@Suite struct JSONTextTests {
    /// A small deterministic generator (SplitMix64), so a failure is reproducible.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let scalars: [Character] = ["a", "Z", "0", "_", "/", "\\", "\"", "\n", "\r", "\t", "\u{8}", "\u{c}", "\u{0}", "\u{1}", "\u{1f}",
                                       "\u{7f}", " ", "é", "ß", "\u{2028}", "\u{2029}", "😀", "中", "\u{FFFD}", "ﬀ", "<", "&", "'"]
    static let numbers: [Double] = [0, -0.0, 1, -1, 42, 1e14, 999_999_999_999_999, 1e15, -1e15, 1e16, 123_456_789_012_345_678, 0.1, 1.5, -2.25,
                                    1e-7, 3e20, 9.223372036854776e18, 0.30000000000000004, 12.0000001, -0.5]

    static func string(_ generator: inout Generator) -> String {
        String((0..<Int.random(in: 0...8, using: &generator)).map { _ in scalars.randomElement(using: &generator)! })
    }

    static func value(_ generator: inout Generator, depth: Int) -> JSONValue {
        switch Int.random(in: 0...(depth > 3 ? 3 : 5), using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .number(numbers.randomElement(using: &generator)!)
        case 3: return .string(string(&generator))
        case 4: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in value(&generator, depth: depth + 1) })
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &generator) { object[string(&generator)] = value(&generator, depth: depth + 1) }
            return .object(object)
        }
    }

    @Test func handWrittenTextIsWhatJSONEncoderWrites() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var generator = Generator(state: 2026_12_03)
        for round in 0..<3000 {
            let value = Self.value(&generator, depth: 0)
            let expected = String(decoding: try encoder.encode(value), as: UTF8.self)
            #expect(value.jsonText == expected, "round \(round)")
            if value.jsonText != expected { return }
        }
    }

    @Test func theReaderReadsBackWhatIsWrittenAsJSONDecoderDoes() throws {
        var generator = Generator(state: 2026_12_04)
        for round in 0..<3000 {
            let value = Self.value(&generator, depth: 0)
            let text = value.jsonText
            let read = try JSONReader.parse(Array(text.utf8))
            let reference = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            #expect(read == reference, "round \(round): \(text)")
            if read != reference { return }
        }
    }

    @Test(arguments: [
        (#" {"a" : [1, -0.5e+2, true, false, null, "x"]} "#, JSONValue.object(["a": .array([.number(1), .number(-50), .bool(true), .bool(false), .null, .string("x")])])),
        (#""\u00e9\ud83d\ude00\/\"\\\b\f\n\r\t\u0000""#, .string("é😀/\"\\\u{8}\u{c}\n\r\t\u{0}")),
        ("0", .number(0)), ("-0", .number(0)), ("[]", .array([])), ("{}", .object([:])), (#""é""#, .string("é")),
    ])
    func theReaderAcceptsJSON(text: String, expected: JSONValue) throws {
        #expect(try JSONReader.parse(Array(text.utf8)) == expected)
    }

    @Test(arguments: ["", " ", "01", "1.", ".5", "1e", "-", "+1", "1e999", "[1,]", "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "[1 2]", "tru", "nul", "NaN",
                      "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"", "\"\\x\"", "\"\\u12\"", "\"a\tb\"", "\"abc", "[1] x", "// c\n1", "{\"k\":1,\"k\":2}",
                      String(repeating: "[", count: 300) + String(repeating: "]", count: 300)])
    func theReaderRefusesWhatIsNotJSON(text: String) {
        #expect(throws: JSONReadError.self, "\(text)") { try JSONReader.parse(Array(text.utf8)) }
    }

    @Test func theReaderRefusesBytesThatAreNotUTF8() {
        #expect(throws: JSONReadError.self) { try JSONReader.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONReadError.self) { try JSONReader.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]) }
        #expect(throws: JSONReadError.self) { try JSONReader.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }  // an encoded surrogate
    }

    @Test func aNonFiniteNumberMakesTheWholeValueNull() {
        #expect(JSONValue.object(["a": .array([.number(.infinity)])]).jsonText == "null")
        #expect(JSONValue.number(.nan).jsonText == "null")
    }
}
