import Foundation

/// A PostgreSQL connection string as libpq reads it: `host=db port=5432 dbname=orders user=app`
/// (values may be single-quoted, with `\'` and `\\` escapes) or a `postgres://user:pw@host:port/db?sslmode=require` URL.
public struct PostgresConnectionString: Sendable, Equatable {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host = "localhost"
    public var port = 5432
    public var database: String?
    public var user: String?
    /// Inline password, when the string carries one; `.pgpass` or `PGPASSWORD` are the better homes.
    public var password: String?
    public var sslMode = SSLMode.prefer
    public var sslRootCert: String?
    public var connectTimeout: Duration = .seconds(10)
    public var applicationName = "helpdesk"

    /// Keys accepted from the libpq keyword list; others are rejected so a typo is not ignored.
    static let knownKeys: Set<String> = ["host", "hostaddr", "port", "dbname", "user", "password", "sslmode", "sslrootcert",
                                         "connect_timeout", "application_name"]

    public init(parsing text: String) throws(ParseError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let pairs = trimmed.hasPrefix("postgres://") || trimmed.hasPrefix("postgresql://")
            ? try Self.urlPairs(trimmed) : try Self.keywordPairs(trimmed)
        for (key, value) in pairs {
            switch key {
            case "host", "hostaddr": host = value
            case "port":
                guard let port = Int(value), (1...65535).contains(port) else { throw ParseError("port must be 1-65535, got \"\(value)\"") }
                self.port = port
            case "dbname": database = value
            case "user": user = value
            case "password": password = value
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw ParseError("sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(value)\"")
                }
                sslMode = mode
            case "sslrootcert": sslRootCert = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds >= 0 else { throw ParseError("connect_timeout must be whole seconds, got \"\(value)\"") }
                connectTimeout = .seconds(seconds == 0 ? 10 : seconds)
            case "application_name": applicationName = value
            default:
                throw ParseError("unknown connection parameter \"\(key)\"; known: \(Self.knownKeys.sorted().joined(separator: ", "))")
            }
        }
        if host.isEmpty { throw ParseError("host is empty") }
    }

    /// A Unix-socket directory, as libpq treats a host starting with `/`.
    public var unixSocketPath: String? {
        host.hasPrefix("/") ? (host as NSString).appendingPathComponent(".s.PGSQL.\(port)") : nil
    }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    private static func keywordPairs(_ text: String) throws(ParseError) -> [(String, String)] {
        var pairs: [(String, String)] = []
        var index = text.startIndex
        func skipSpaces() { while index < text.endIndex, text[index].isWhitespace { index = text.index(after: index) } }
        while true {
            skipSpaces()
            guard index < text.endIndex else { break }
            let keyStart = index
            while index < text.endIndex, text[index] != "=", !text[index].isWhitespace { index = text.index(after: index) }
            let key = String(text[keyStart..<index])
            skipSpaces()
            guard index < text.endIndex, text[index] == "=" else { throw ParseError("expected key=value, found \"\(key)\" without \"=\"") }
            index = text.index(after: index)
            skipSpaces()
            var value = ""
            if index < text.endIndex, text[index] == "'" {
                index = text.index(after: index)
                var closed = false
                while index < text.endIndex {
                    let character = text[index]
                    if character == "\\", text.index(after: index) < text.endIndex {
                        index = text.index(after: index)
                        value.append(text[index])
                    } else if character == "'" {
                        closed = true
                        break
                    } else {
                        value.append(character)
                    }
                    index = text.index(after: index)
                }
                guard closed else { throw ParseError("unterminated quoted value for \(key)") }
                index = text.index(after: index)
            } else {
                while index < text.endIndex, !text[index].isWhitespace {
                    if text[index] == "\\", text.index(after: index) < text.endIndex { index = text.index(after: index) }
                    value.append(text[index])
                    index = text.index(after: index)
                }
            }
            pairs.append((key, value))
        }
        return pairs
    }

    private static func urlPairs(_ text: String) throws(ParseError) -> [(String, String)] {
        guard let components = URLComponents(string: text) else { throw ParseError("not a valid postgres:// URL") }
        var pairs: [(String, String)] = []
        if let host = components.host, !host.isEmpty { pairs.append(("host", host)) }
        if let port = components.port { pairs.append(("port", String(port))) }
        if let user = components.user { pairs.append(("user", user)) }
        if let password = components.password { pairs.append(("password", password)) }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        if !path.isEmpty { pairs.append(("dbname", path)) }
        for item in components.queryItems ?? [] {
            pairs.append((item.name, item.value ?? ""))
        }
        return pairs
    }
}
