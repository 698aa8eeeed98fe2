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

/// Turns tool results into findings: for the result, or for each element of the list at `each`,
/// other tools' elements are joined in, the conditions are checked, matches are grouped, follow-up
/// reads add their output, and then the finding's text, advice and recommendations are filled in.
public struct Rule: Sendable, Decodable {
    public var id: String
    public var tool: String
    /// Dotted path to a list in the tool's output; the rule is checked for every element.
    public var each: String?
    /// Elements of other tools put into each element before `when` is checked, in order.
    public var join: [Join]
    public var when: [Condition]
    /// One finding per distinct value tuple instead of one per element.
    public var group: Group?
    /// Reads run for the findings that are kept, before their text is filled in.
    public var follow: [FollowUp]
    public var severity: Severity
    /// The finding's text; `{field}` is replaced by that field of the element (`{a.b}` for nested).
    public var finding: String
    /// What a person should do, a template like `finding`.
    public var advice: String?
    /// Rules whose findings about the same base element this rule's findings replace.
    public var supersedes: [String]
    public var recommend: [Recommendation]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, tool, each, join, when, group, follow, severity, finding, advice, supersedes, recommend
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        tool = try container.decode(String.self, forKey: .tool)
        each = try container.decodeIfPresent(String.self, forKey: .each)
        join = try container.decodeIfPresent([Join].self, forKey: .join) ?? []
        when = try container.decodeIfPresent([Condition].self, forKey: .when) ?? []
        group = try container.decodeIfPresent(Group.self, forKey: .group)
        follow = try container.decodeIfPresent([FollowUp].self, forKey: .follow) ?? []
        severity = try container.decode(Severity.self, forKey: .severity)
        finding = try container.decode(String.self, forKey: .finding)
        advice = try container.decodeIfPresent(String.self, forKey: .advice)
        supersedes = try container.decodeIfPresent([String].self, forKey: .supersedes) ?? []
        recommend = try container.decodeIfPresent([Recommendation].self, forKey: .recommend) ?? []
        // Joins and follow-ups both write element[as]: one name may not hide another.
        var names: Set<String> = []
        for name in join.map(\.name) + follow.map(\.name) where !names.insert(name).inserted {
            throw DecodingError.dataCorruptedError(forKey: join.contains(where: { $0.name == name }) ? .join : .follow, in: container,
                debugDescription: "rule \(id) uses \"as: \(name)\" twice; each join and follow-up needs its own name")
        }
    }

    /// A tool call to recommend; `args` values are templates filled like the finding text.
    public struct Recommendation: Sendable, Decodable {
        public var tool: String
        public var args: [String: String]
        public var reason: String
        /// Recommended only when these hold for the finding's element (e.g. a previous revision exists).
        public var when: [Condition]

        enum CodingKeys: String, CodingKey, CaseIterable { case tool, args, reason, when }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            tool = try container.decode(String.self, forKey: .tool)
            args = try container.decodeIfPresent([String: String].self, forKey: .args) ?? [:]
            reason = try container.decodeIfPresent(String.self, forKey: .reason) ?? ""
            when = try container.decodeIfPresent([Condition].self, forKey: .when) ?? []
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

        /// Whether the condition holds for `item`; with `context`, string operands of equals, not_equals,
        /// contains and in are templates filled from it (a join's `where`), and one that finds no value fails.
        func holds(for item: JSONValue, operandsFrom context: JSONValue? = nil) -> Bool {
            guard let context else { return Self.check(comparison, item.value(at: field)) }
            var missing = false
            func filled(_ operand: JSONValue) -> JSONValue {
                guard case .string(let template) = operand else { return operand }
                let rendered = Template.render(template, from: context)
                missing = missing || rendered.missing
                return .string(rendered.text)
            }
            let comparison: Comparison = switch self.comparison {
            case .equals(let operand): .equals(filled(operand))
            case .notEquals(let operand): .notEquals(filled(operand))
            case .oneOf(let operands): .oneOf(operands.map(filled))
            case .contains(let text): .contains(filled(.string(text)).description)
            default: self.comparison
            }
            return !missing && Self.check(comparison, item.value(at: field))
        }

        private static func check(_ comparison: Comparison, _ value: JSONValue?) -> Bool {
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

    /// Findings this rule raises for `output` on its own: no other tool to join, nothing superseded or
    /// absorbed, no follow-up read (an orchestrator's diagnosis does all of that).
    public func evaluate(_ output: JSONValue, target: String) -> [Finding] {
        candidates(in: [tool: output]).map { $0.finding(target: target) }
    }

    /// Arguments filled from numbers stay numbers, so `pid: "{pid}"` becomes `pid: 4242`.
    static func argument(_ text: String) -> JSONValue {
        if let number = Double(text), number.isFinite { return .number(number) }
        return .string(text)
    }
}
