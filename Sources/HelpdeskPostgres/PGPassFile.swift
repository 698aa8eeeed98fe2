import Foundation

/// libpq's password file: lines of `hostname:port:database:username:password`, `*` matching
/// anything, `\:` and `\\` escaping. The first matching line wins.
public struct PGPassFile: Sendable {
    struct Entry: Sendable {
        var host: String
        var port: String
        var database: String
        var user: String
        var password: String
    }

    let entries: [Entry]

    public init(contents: String) {
        entries = contents.split(whereSeparator: \.isNewline).compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
            let fields = Self.split(trimmed)
            guard fields.count == 5 else { return nil }
            return Entry(host: fields[0], port: fields[1], database: fields[2], user: fields[3], password: fields[4])
        }
    }

    /// Reads the file, ignoring it (as libpq does) when others may read it.
    public init?(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw PGPassError.tooOpen(path: path)
        }
        self.init(contents: try String(contentsOfFile: path, encoding: .utf8))
    }

    public func password(host: String, port: Int, database: String, user: String) -> String? {
        // libpq matches "localhost" for Unix-socket connections too.
        let hostName = host.hasPrefix("/") ? "localhost" : host
        return entries.first { entry in
            Self.matches(entry.host, hostName) && Self.matches(entry.port, String(port))
                && Self.matches(entry.database, database) && Self.matches(entry.user, user)
        }?.password
    }

    private static func matches(_ pattern: String, _ value: String) -> Bool {
        pattern == "*" || pattern == value
    }

    private static func split(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" && fields.count < 4 {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}

public enum PGPassError: Error, Sendable, CustomStringConvertible {
    case tooOpen(path: String)

    public var description: String {
        switch self {
        case .tooOpen(let path): "the password file \(path) may be read by others; run chmod 0600 \(path) (libpq ignores it too)"
        }
    }
}
