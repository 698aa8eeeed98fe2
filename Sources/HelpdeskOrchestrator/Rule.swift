import Foundation
import HelpdeskAgents
import HelpdeskCore

/// How bad a finding is; ordered so the worst sorts first.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case info, warning, critical

    public static func < (lhs: Severity, rhs: Severity) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Turns one tool's result into findings: when every condition holds (for the result, or for each
/// element of the list at `each`), a finding is raised with its text filled from that element.
public struct Rule: Sendable, Decodable {
    public var id: String
    public var tool: String
    /// Dotted path to a list in the tool's output; the rule is checked for every element.
    public var each: String?
    public var when: [Condition]
    public var severity: Severity
    /// The finding's text; `{field}` is replaced by that field of the element (`{a.b}` for nested).
    public var finding: String
    public var recommend: [Recommendation]

    enum CodingKeys: String, CodingKey, CaseIterable { case id, tool, each, when, severity, finding, recommend }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        tool = try container.decode(String.self, forKey: .tool)
        each = try container.decodeIfPresent(String.self, forKey: .each)
        when = try container.decodeIfPresent([Condition].self, forKey: .when) ?? []
        severity = try container.decode(Severity.self, forKey: .severity)
        finding = try container.decode(String.self, forKey: .finding)
        recommend = try container.decodeIfPresent([Recommendation].self, forKey: .recommend) ?? []
    }

    /// A tool call to recommend; `args` values are templates filled like the finding text.
    public struct Recommendation: Sendable, Decodable {
        public var tool: String
        public var args: [String: String]
        public var reason: String

        enum CodingKeys: String, CodingKey, CaseIterable { case tool, args, reason }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            tool = try container.decode(String.self, forKey: .tool)
            args = try container.decodeIfPresent([String: String].self, forKey: .args) ?? [:]
            reason = try container.decodeIfPresent(String.self, forKey: .reason) ?? ""
        }
    }

    /// One test on a field: exactly one comparison per condition.
    public struct Condition: Sendable, Decodable {
        public enum Comparison: Sendable {
            case equals(JSONValue), notEquals(JSONValue), above(Double), below(Double), atLeast(Double), atMost(Double)
            case oneOf([JSONValue]), contains(String), exists(Bool)
        }

        public var field: String
        public var comparison: Comparison

        enum CodingKeys: String, CodingKey, CaseIterable {
            case field, equals, notEquals = "not_equals", above, below, atLeast = "at_least", atMost = "at_most"
            case oneOf = "in", contains, exists
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            field = try container.decode(String.self, forKey: .field)
            var found: [Comparison] = []
            if let value = try container.decodeIfPresent(JSONValue.self, forKey: .equals) { found.append(.equals(value)) }
            if let value = try container.decodeIfPresent(JSONValue.self, forKey: .notEquals) { found.append(.notEquals(value)) }
            if let value = try container.decodeIfPresent(Double.self, forKey: .above) { found.append(.above(value)) }
            if let value = try container.decodeIfPresent(Double.self, forKey: .below) { found.append(.below(value)) }
            if let value = try container.decodeIfPresent(Double.self, forKey: .atLeast) { found.append(.atLeast(value)) }
            if let value = try container.decodeIfPresent(Double.self, forKey: .atMost) { found.append(.atMost(value)) }
            if let value = try container.decodeIfPresent([JSONValue].self, forKey: .oneOf) { found.append(.oneOf(value)) }
            if let value = try container.decodeIfPresent(String.self, forKey: .contains) { found.append(.contains(value)) }
            if let value = try container.decodeIfPresent(Bool.self, forKey: .exists) { found.append(.exists(value)) }
            guard found.count == 1, let comparison = found.first else {
                throw DecodingError.dataCorruptedError(forKey: .field, in: container,
                    debugDescription: "a condition on \(field) needs exactly one of: equals, not_equals, above, below, at_least, at_most, in, contains, exists")
            }
            self.comparison = comparison
        }

        func holds(for item: JSONValue) -> Bool {
            let value = item.value(at: field)
            switch comparison {
            case .exists(let expected): return (value != nil && value != .null) == expected
            case .equals(let expected): return value.map { Self.same($0, expected) } ?? false
            case .notEquals(let expected): return value.map { !Self.same($0, expected) } ?? false
            case .above(let limit): return (value?.doubleValue).map { $0 > limit } ?? false
            case .below(let limit): return (value?.doubleValue).map { $0 < limit } ?? false
            case .atLeast(let limit): return (value?.doubleValue).map { $0 >= limit } ?? false
            case .atMost(let limit): return (value?.doubleValue).map { $0 <= limit } ?? false
            case .oneOf(let options): return value.map { value in options.contains { Self.same(value, $0) } } ?? false
            case .contains(let text): return value.map { $0.description.localizedCaseInsensitiveContains(text) } ?? false
            }
        }

        /// YAML `"5"` and JSON `5` compare equal; so do numbers of different spelling.
        private static func same(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
            if let left = lhs.doubleValue, let right = rhs.doubleValue, case .number = lhs { return left == right }
            if let left = lhs.doubleValue, let right = rhs.doubleValue, case .number = rhs { return left == right }
            return lhs.description == rhs.description
        }
    }

    /// Findings this rule raises for `output`.
    public func evaluate(_ output: JSONValue, target: String) -> [Finding] {
        let items: [JSONValue]
        if let each {
            items = output.value(at: each)?.arrayValue ?? []
        } else {
            items = [output]
        }
        return items.filter { item in when.allSatisfy { $0.holds(for: item) } }.map { item in
            let summary = Self.fill(finding, from: item)
            return Finding(
                rule: id, tool: tool, severity: severity, summary: summary, evidence: item,
                recommendedActions: recommend.map { recommendation in
                    RecommendedAction(
                        call: ToolCall(tool: recommendation.tool, target: target,
                                       arguments: recommendation.args.mapValues { Self.argument(Self.fill($0, from: item)) }),
                        reason: Self.fill(recommendation.reason, from: item), finding: summary)
                })
        }
    }

    /// Replaces `{path}` with the element's value at that path (`?` when it has none).
    static func fill(_ template: String, from item: JSONValue) -> String {
        var result = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            result += rest[..<open]
            let path = String(rest[rest.index(after: open)..<close])
            result += item.value(at: path).map { $0 == .null ? "?" : $0.description } ?? "?"
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// Arguments filled from numbers stay numbers, so `pid: "{pid}"` becomes `pid: 4242`.
    private static func argument(_ text: String) -> JSONValue {
        if let number = Double(text), number.isFinite { return .number(number) }
        return .string(text)
    }
}
