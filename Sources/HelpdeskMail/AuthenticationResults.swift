/// Why an `Authentication-Results` header could not be read.
public enum AuthenticationResultsError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(offset: Int, expected: String)
    case tooLarge

    public var description: String {
        switch self {
        case .malformed(let offset, let expected): "malformed Authentication-Results at byte \(offset): expected \(expected)"
        case .tooLarge: "the Authentication-Results header is too large to read"
        }
    }
}

/// One `Authentication-Results` header field, parsed by RFC 8601's grammar (§2.2):
///
///     authres-payload = [CFWS] authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS]
///     resinfo   = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
///     methodspec = [CFWS] method [ "/" version ] [CFWS] "=" [CFWS] result
///     propspec  = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
///
/// Comments in parentheses are skipped, quoted strings unquoted. Keywords are lowercased; values
/// keep their case. A bare `name=value` after a method result (seen from some providers, not in
/// the grammar) is accepted and ignored.
public struct AuthenticationResults: Sendable, Equatable {
    public struct Property: Sendable, Equatable {
        public var ptype: String
        public var property: String
        public var value: String
    }

    public struct Result: Sendable, Equatable {
        public var method: String
        public var version: Int?
        public var result: String
        public var reason: String?
        public var properties: [Property]

        /// The value of `ptype.property`, first occurrence.
        public func property(_ ptype: String, _ property: String) -> String? {
            properties.first { $0.ptype == ptype && $0.property == property }?.value
        }
    }

    public var authservID: String
    public var version: Int?
    /// Empty for `authserv-id; none`.
    public var results: [Result]

    static let maxBytes = 16 * 1024
    static let maxResults = 64

    public init(parsing header: String) throws(AuthenticationResultsError) {
        guard header.utf8.count <= Self.maxBytes else { throw .tooLarge }
        var scanner = Scanner(Array(header.utf8))
        try scanner.skipCFWS()
        guard let id = try scanner.value() else { throw scanner.error("an authserv-id") }
        authservID = id
        try scanner.skipCFWS()
        version = scanner.digits()
        results = []
        while true {
            try scanner.skipCFWS()
            if scanner.atEnd { break }
            guard scanner.take(UInt8(ascii: ";")) else { throw scanner.error("\";\" before a result") }
            try scanner.skipCFWS()
            if scanner.atEnd { break }  // a trailing ";"
            guard results.count < Self.maxResults else { throw .tooLarge }
            guard let method = scanner.keyword() else { throw scanner.error("a method name") }
            try scanner.skipCFWS()
            if method == "none", scanner.atEnd || scanner.peek == UInt8(ascii: ";") { continue }
            results.append(try scanner.resultInfo(method: method))
        }
    }
}

extension AuthenticationResults {
    /// A byte cursor over one header value; never reads past the end.
    struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[index] }

        func error(_ expected: String) -> AuthenticationResultsError { .malformed(offset: index, expected: expected) }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        /// Whitespace (folded lines included) and comments, which may nest.
        mutating func skipCFWS() throws(AuthenticationResultsError) {
            while let byte = peek {
                if byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A {
                    index += 1
                } else if byte == UInt8(ascii: "(") {
                    try skipComment()
                } else {
                    return
                }
            }
        }

        private mutating func skipComment() throws(AuthenticationResultsError) {
            let start = index
            var depth = 0
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\\"): index += 1
                case UInt8(ascii: "("):
                    depth += 1
                    guard depth <= 16 else { throw .malformed(offset: index, expected: "comments nested at most 16 deep") }
                case UInt8(ascii: ")"):
                    depth -= 1
                    if depth == 0 { return }
                default: break
                }
            }
            throw .malformed(offset: start, expected: "a \")\" closing the comment")
        }

        /// RFC 8601 Keyword: letters, digits, "-" and "_"; lowercased.
        mutating func keyword() -> String? {
            let start = index
            while let byte = peek, Self.isKeyword(byte) { index += 1 }
            guard index > start else { return nil }
            return String(decoding: bytes[start..<index], as: UTF8.self).lowercased()
        }

        mutating func digits() -> Int? {
            let start = index
            while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), index - start < 9 { index += 1 }
            guard index > start else { return nil }
            return Int(String(decoding: bytes[start..<index], as: UTF8.self))
        }

        /// RFC 2045 `value`: a token or a quoted string.
        mutating func value() throws(AuthenticationResultsError) -> String? {
            if peek == UInt8(ascii: "\"") { return try quotedString() }
            let start = index
            while let byte = peek, Self.isToken(byte) { index += 1 }
            guard index > start else { return nil }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// A property value: a quoted string, or everything up to whitespace, ";" or a comment
        /// (so `local@domain` and base64 such as `header.b=ab+/c=` read whole).
        mutating func propertyValue() throws(AuthenticationResultsError) -> String? {
            if peek == UInt8(ascii: "\"") { return try quotedString() }
            let start = index
            while let byte = peek, byte > 0x20, byte != 0x7F, byte != UInt8(ascii: ";"), byte != UInt8(ascii: "("),
                  byte != UInt8(ascii: "\"") { index += 1 }
            guard index > start else { return nil }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        private mutating func quotedString() throws(AuthenticationResultsError) -> String {
            let start = index
            index += 1  // the opening quote
            var text: [UInt8] = []
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return String(decoding: text, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = peek else { break }
                    text.append(escaped)
                    index += 1
                default: text.append(byte)
                }
            }
            throw .malformed(offset: start, expected: "a closing quote")
        }

        /// After the method name: `[/version] = result [reason=value] [ptype.property=value …]`.
        mutating func resultInfo(method: String) throws(AuthenticationResultsError) -> Result {
            var version: Int?
            if take(UInt8(ascii: "/")) {
                try skipCFWS()
                guard let number = digits() else { throw error("a method version") }
                version = number
                try skipCFWS()
            }
            guard take(UInt8(ascii: "=")) else { throw error("\"=\" after the method \(method)") }
            try skipCFWS()
            guard let result = keyword() else { throw error("a result for \(method)") }
            var info = Result(method: method, version: version, result: result, reason: nil, properties: [])
            while true {
                try skipCFWS()
                guard let byte = peek, byte != UInt8(ascii: ";") else { return info }
                guard info.properties.count < 64, let name = keyword() else { throw error("a property such as header.d=…") }
                try skipCFWS()
                if take(UInt8(ascii: "=")) {
                    try skipCFWS()
                    guard let value = try propertyValue() else { throw error("a value for \(name)") }
                    if name == "reason" { info.reason = value }  // other bare names are not in the grammar: ignored
                    continue
                }
                guard take(UInt8(ascii: ".")) else { throw error("\".\" or \"=\" after \(name)") }
                try skipCFWS()
                guard let property = keyword() else { throw error("a property name after \(name).") }
                try skipCFWS()
                guard take(UInt8(ascii: "=")) else { throw error("\"=\" after \(name).\(property)") }
                try skipCFWS()
                guard let value = try propertyValue() else { throw error("a value for \(name).\(property)") }
                info.properties.append(Property(ptype: name, property: property, value: value))
            }
        }

        static func isKeyword(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"): true
            default: false
            }
        }

        /// RFC 2045 token characters: printable ASCII except space and tspecials.
        static func isToken(_ byte: UInt8) -> Bool {
            guard byte > 0x20, byte < 0x7F else { return false }
            switch byte {
            case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"), UInt8(ascii: ","),
                 UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "/"), UInt8(ascii: "["),
                 UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="): return false
            default: return true
            }
        }
    }
}
