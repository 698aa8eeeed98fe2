/// A coding key for any string, to list every key a mapping has.
public struct AnyCodingKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

/// Throws for any key of the mapping at `decoder` that `Keys` does not list, so a typo in a
/// runbook or policy file is an error instead of a silently ignored setting.
public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ decoder: any Decoder, _: Keys.Type) throws {
    let known = Set(Keys.allCases.map(\.stringValue))
    let container = try decoder.container(keyedBy: AnyCodingKey.self)
    for key in container.allKeys where !known.contains(key.stringValue) {
        throw DecodingError.dataCorruptedError(
            forKey: key, in: container,
            debugDescription: "unknown key \"\(key.stringValue)\"; expected one of: \(known.sorted().joined(separator: ", "))")
    }
}

/// The dotted path of a coding path: `policies.2.rules.0.effect`.
public func dottedPath(_ keys: [any CodingKey]) -> String {
    keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
}

/// A decoding error as `path: what is wrong`, with the YAML parser's own message when it has one.
public func describeDecodingError(_ error: DecodingError) -> String {
    switch error {
    case .keyNotFound(let key, let context): return "\(dottedPath(context.codingPath + [key])): required key is missing"
    case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
        let location = dottedPath(context.codingPath)
        let detail = context.underlyingError.map { "\($0)".split(separator: "\n").first.map(String.init) ?? "\($0)" } ?? context.debugDescription
        return location.isEmpty ? detail : "\(location): \(detail)"
    @unknown default: return "\(error)"
    }
}
