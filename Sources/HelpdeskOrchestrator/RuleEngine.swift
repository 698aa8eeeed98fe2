import Foundation
import HelpdeskAgents
import HelpdeskCore

/// Where an element came from: a tool, the list path in its output (`nil`: the output itself) and
/// the index there. Two rules' findings are about the same thing when they share one.
struct ElementSource: Hashable, Sendable {
    var tool: String
    var list: String?
    var index: Int?
}

/// A rule's match before its text is filled in: the example element (with its joins, `group` and,
/// later, follow-up outputs), the base elements it stands for, and the elements its joins took in.
struct Candidate: Sendable {
    var rule: Rule
    var element: JSONValue
    var members: [ElementSource]
    var absorbed: Set<ElementSource>
    var count: Int

    /// The finding, its text, advice and recommendations filled from the element.
    /// `catalog` types the recommended calls' arguments: a text parameter stays text even when it reads
    /// as a number (a deployment named `1e3` is not `1000`).
    func finding(target: String, catalog: [ToolDescriptor] = []) -> Finding {
        let summary = Template.fill(rule.finding, from: element)
        let advice = rule.advice.map { Template.fill($0, from: element).trimmingCharacters(in: .whitespaces) }
        let actions = rule.recommend.filter { recommendation in
            recommendation.when.allSatisfy { $0.holds(for: element) }
        }.map { recommendation in
            RecommendedAction(
                call: ToolCall(tool: recommendation.tool, target: target,
                               arguments: Dictionary(uniqueKeysWithValues: recommendation.args.map { key, template in
                                   let text = Template.fill(template, from: element)
                                   let kind = catalog.first { $0.name == recommendation.tool }?.parameters.first { $0.name == key }?.kind
                                   return (key, kind == .string ? JSONValue.string(text) : Rule.argument(text))
                               })),
                reason: Template.fill(recommendation.reason, from: element), finding: summary)
        }
        return Finding(rule: rule.id, tool: rule.tool, severity: rule.severity, summary: summary, evidence: element,
                       recommendedActions: actions, advice: advice?.isEmpty == false ? advice : nil, count: count)
    }
}

extension Rule {
    /// This rule's matches in `outputs` (tool name → output; a tool that failed or did not run is
    /// absent): joins put in, `when` checked, members grouped.
    func candidates(in outputs: [String: JSONValue]) -> [Candidate] {
        guard let output = outputs[tool] else { return [] }
        // Each join's list is read, and indexed, once per evaluation rather than scanned for every element.
        let indexes = join.map { join in
            outputs[join.tool].map { JoinIndex(join, elements: Self.elements(of: $0, tool: join.tool, list: join.each)) }
        }
        var matches: [Candidate] = []
        for (item, source) in Self.elements(of: output, tool: tool, list: each) {
            var element = item
            var absorbed: Set<ElementSource> = []
            for index in indexes {
                guard let index, let match = index.firstMatch(for: element) else { continue }
                element = element.setting(index.join.name, to: match.0)
                absorbed.insert(match.1)
            }
            guard when.allSatisfy({ $0.holds(for: element) }) else { continue }
            matches.append(Candidate(rule: self, element: element, members: [source], absorbed: absorbed, count: 1))
        }
        guard let group else {
            return matches.map { match -> Candidate in
                var single = match
                single.element = match.element.setting("group", to: .object(["count": .number(1)]))
                return single
            }
        }
        return grouped(matches, by: group)
    }

    /// The elements a rule or join looks at, with where each came from.
    static func elements(of output: JSONValue, tool: String, list: String?) -> [(JSONValue, ElementSource)] {
        guard let list else { return [(output, ElementSource(tool: tool, list: nil, index: nil))] }
        return (output.value(at: list)?.arrayValue ?? []).enumerated().map { index, item in
            (item, ElementSource(tool: tool, list: list, index: index))
        }
    }

    /// One candidate per distinct `by` tuple, in order of first appearance, its example the worst member.
    private func grouped(_ matches: [Candidate], by group: Group) -> [Candidate] {
        var order: [[String]] = []
        var groups: [[String]: [Candidate]] = [:]
        for match in matches {
            // Missing and null group together; anything else by its JSON text.
            let key = group.by.map { path -> String in
                guard let value = match.element.value(at: path), value != .null else { return "\u{0}" }
                return value.jsonText
            }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(match)
        }
        return order.compactMap { key -> Candidate? in
            guard let members = groups[key] else { return nil }
            let ranked = Self.worstFirst(members, by: group.worst)
            guard var example = ranked.first else { return nil }
            var info: [String: JSONValue] = ["count": .number(Double(members.count))]
            if let list = group.list {
                let values = ranked.compactMap { $0.element.value(at: list) }.filter { $0 != .null }
                info["list"] = .array(Array(values.prefix(10)))
            }
            example.element = example.element.setting("group", to: .object(info))
            example.members = members.flatMap(\.members)
            example.absorbed = members.reduce(into: Set<ElementSource>()) { $0.formUnion($1.absorbed) }
            example.count = members.count
            return example
        }
    }

    /// Largest `worst` first; equal or absent values keep list order (absent ones last).
    private static func worstFirst(_ members: [Candidate], by worst: String?) -> [Candidate] {
        guard let worst else { return members }
        return members.enumerated().sorted { lhs, rhs in
            let left = lhs.element.element.value(at: worst)?.doubleValue ?? -.infinity
            let right = rhs.element.element.value(at: worst)?.doubleValue ?? -.infinity
            return left != right ? left > right : lhs.offset < rhs.offset
        }.map(\.element)
    }
}

/// What holds the rules of several runbooks together: a finding that another replaces or has taken
/// in is not reported twice, and no rule reports more than ``maxFindingsPerRule``.
enum RuleEngine {
    /// Findings one rule reports in a diagnosis at most: 2,000 crash-looping pods are one problem to
    /// read about, not 2,000 findings (nor 2,000 Slack lines); the diagnosis says how many more there were.
    static let maxFindingsPerRule = 20

    /// Drops superseded candidates, then absorbed ones, and returns the rest in report order: worst
    /// severity first, then as given (runbook order, rule order, element order). Linear in the
    /// candidates: the sets it compares with are built once, not per pair.
    static func select(_ candidates: [Candidate]) -> [Candidate] {
        // For each rule named in a `supersedes`: the elements each superseding rule's candidates are about.
        var superseding: [String: [String: Set<ElementSource>]] = [:]
        for candidate in candidates {
            for replaced in candidate.rule.supersedes {
                superseding[replaced, default: [:]][candidate.rule.id, default: []].formUnion(candidate.members)
            }
        }
        let survivors = candidates.filter { candidate in
            guard let rules = superseding[candidate.rule.id] else { return true }
            return !rules.contains { rule, members in
                rule != candidate.rule.id && candidate.members.contains { members.contains($0) }
            }
        }
        let ordered = survivors.enumerated().sorted { lhs, rhs in
            lhs.element.rule.severity != rhs.element.rule.severity
                ? lhs.element.rule.severity > rhs.element.rule.severity : lhs.offset < rhs.offset
        }.map(\.element)
        var kept: [Candidate] = []
        // The rules whose kept findings' joins took in each element: a namespace's events can be hundreds.
        var absorbers: [ElementSource: Set<String>] = [:]
        for candidate in ordered {
            // Taken in by an already kept finding of another rule (the event joined into the pending pod's).
            let rule = candidate.rule.id
            if candidate.members.allSatisfy({ member in absorbers[member]?.contains { $0 != rule } == true }) { continue }
            kept.append(candidate)
            for source in candidate.absorbed { absorbers[source, default: []].insert(rule) }
        }
        return kept
    }

    /// The first `limit` findings of each rule in report order (its worst, then as given) and, for each
    /// rule that had more, a problem saying how many more. Findings count by rule and text, as identical
    /// ones are reported once; the text is filled before follow-up reads (which run only for the kept
    /// candidates), and a candidate whose text a kept one has stays, to be reported once with it.
    static func cap(_ candidates: [Candidate], perRule limit: Int = RuleEngine.maxFindingsPerRule)
        -> (kept: [Candidate], problems: [String]) {
        var shown: [String: Set<String>] = [:]
        var hidden: [String: Set<String>] = [:]
        var overflowing: [String] = []
        // Within a rule the worst are shown first (its `group.worst` value, then the larger group), not the
        // first in the tool's order: twenty crash-looping decoys named `aaa-…` must not hide the real one.
        func rank(_ candidate: Candidate) -> (Double, Int) {
            let worst = candidate.rule.group?.worst.flatMap { candidate.element.value(at: $0)?.doubleValue } ?? -.infinity
            return (worst.isNaN ? -.infinity : worst, candidate.count)
        }
        var firstOfRule: [String: Int] = [:]
        for (index, candidate) in candidates.enumerated() where firstOfRule[candidate.rule.id] == nil { firstOfRule[candidate.rule.id] = index }
        // Ordered by rule (where each first appears), then worst first: a strict weak order.
        let order = candidates.indices.sorted { left, right in
            let (a, b) = (candidates[left], candidates[right])
            let (ruleA, ruleB) = (firstOfRule[a.rule.id] ?? left, firstOfRule[b.rule.id] ?? right)
            if ruleA != ruleB { return ruleA < ruleB }
            let (rankA, rankB) = (rank(a), rank(b))
            if rankA.0 != rankB.0 { return rankA.0 > rankB.0 }
            if rankA.1 != rankB.1 { return rankA.1 > rankB.1 }
            return left < right
        }
        var keep = Set<Int>()
        for index in order {
            let candidate = candidates[index]
            let rule = candidate.rule.id
            let text = Template.fill(candidate.rule.finding, from: candidate.element)
            if shown[rule]?.contains(text) == true || shown[rule, default: []].count < limit {
                shown[rule, default: []].insert(text)
                keep.insert(index)
            } else {
                if hidden[rule] == nil { overflowing.append(rule) }
                hidden[rule, default: []].insert(text)
            }
        }
        let kept = candidates.indices.filter { keep.contains($0) }.map { candidates[$0] }
        let problems = overflowing.map { rule -> String in
            let count = hidden[rule]?.count ?? 0
            return "rule \(rule): \(count) more finding\(count == 1 ? "" : "s") not shown (at most \(limit) per rule)"
        }
        return (kept, problems)
    }
}

extension JSONValue {
    /// The object with `key` set to `value`; anything but an object has no keys to set and stays as it is.
    func setting(_ key: String, to value: JSONValue) -> JSONValue {
        guard case .object(var object) = self else { return self }
        object[key] = value
        return .object(object)
    }
}
