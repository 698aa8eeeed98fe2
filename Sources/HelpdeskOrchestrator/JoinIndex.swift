import HelpdeskCore

/// A join's candidates, looked up instead of scanned. When its `where` has a condition
/// `{field: f, equals: "…{x}…"}`, the other list is indexed by `f` once per rule evaluation and each
/// element looks up the text its template fills; every condition is then checked on those alone, in
/// list order. The match is the scan's: the first element for which every condition holds.
struct JoinIndex {
    let join: Rule.Join
    let elements: [(JSONValue, ElementSource)]
    /// The condition the index is keyed by: its field and its template.
    private let key: (field: String, template: String)?
    /// Positions in `elements`, ascending, by the value at the key's field, as `equals` compares with text:
    /// numbers by value when the text reads as one (`5` equals `"5.0"`), else by how they print; any
    /// other value by how it prints.
    private var numbers: [Double: [Int]] = [:]
    private var printedNumbers: [String: [Int]] = [:]
    private var printed: [String: [Int]] = [:]

    init(_ join: Rule.Join, elements: [(JSONValue, ElementSource)]) {
        self.join = join
        self.elements = elements
        key = Self.indexKey(of: join)
        guard let key else { return }
        for (position, element) in elements.enumerated() {
            switch element.0.value(at: key.field) {
            case nil:
                continue
            case .number(let number)?:
                if !number.isNaN { numbers[number, default: []].append(position) }
                printedNumbers[JSONValue.number(number).description, default: []].append(position)
            case let value?:
                printed[value.description, default: []].append(position)
            }
        }
    }

    /// The first `equals` condition whose operand is a template: the others' operands are the same for
    /// every element, so they would not narrow the lookup.
    private static func indexKey(of join: Rule.Join) -> (field: String, template: String)? {
        for condition in join.conditions {
            if case .equals(.string(let template)) = condition.comparison, Template.hasPlaceholder(template) {
                return (condition.field, template)
            }
        }
        return nil
    }

    /// The first element, in list order, for which every condition holds with operands filled from `base`.
    func firstMatch(for base: JSONValue) -> (JSONValue, ElementSource)? {
        guard let key else { return scan(for: base) }
        let filled = Template.render(key.template, from: base)
        // A template naming a value the element lacks fails the condition for every candidate.
        if filled.missing { return nil }
        let text = filled.text
        let byText = printed[text] ?? []
        let byNumber = Double(text).map { numbers[$0] ?? [] } ?? printedNumbers[text] ?? []
        // Both are ascending: walk them together, so the first that holds is the first in list order.
        var (left, right) = (0, 0)
        while left < byText.count || right < byNumber.count {
            let position: Int
            if right == byNumber.count || (left < byText.count && byText[left] < byNumber[right]) {
                position = byText[left]
                left += 1
            } else {
                position = byNumber[right]
                right += 1
            }
            if holds(elements[position].0, base) { return elements[position] }
        }
        return nil
    }

    /// The first match by looking at every element: what joins without an indexable condition do, and
    /// what ``firstMatch(for:)`` must always agree with.
    func scan(for base: JSONValue) -> (JSONValue, ElementSource)? {
        elements.first { holds($0.0, base) }
    }

    private func holds(_ item: JSONValue, _ base: JSONValue) -> Bool {
        join.conditions.allSatisfy { $0.holds(for: item, operandsFrom: base) }
    }
}
