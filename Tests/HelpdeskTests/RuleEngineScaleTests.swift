import Foundation
import HelpdeskAgents
import HelpdeskCore
@testable import HelpdeskOrchestrator
import HelpdeskTestSupport
import Testing
import Yams

/// Many matching elements: findings capped per rule, joins looked up rather than scanned, and each
/// runbook reading its own call of a tool that several run.
@Suite struct RuleEngineScaleTests {
    static let crashLoops = """
        name: crashes
        match: {symptoms: [stuck]}
        tools: [{tool: pods}, {tool: events}]
        rules:
          - id: crash-loop
            tool: pods
            each: pods
            join:
              - as: event
                tool: events
                each: events
                where: [{field: object, equals: "Pod/{name}"}, {field: reason, equals: BackOff}]
            when: [{field: waiting_reason, equals: CrashLoopBackOff}]
            severity: critical
            finding: "pod {name} crash-loops: {event.message|no event}"
          - id: warning-events
            tool: events
            each: events
            when: [{field: type, equals: Warning}]
            severity: warning
            finding: "{object}: {reason}"
        """

    /// `count` crash-looping pods, each with its BackOff event (after an unrelated one about it), and one
    /// Warning event that no pod's finding takes in, repeated `repeats` times.
    static func harness(pods count: Int, repeats: Int = 1) throws -> RuleEngineTests.Harness {
        let pods: [JSONValue] = (1...count).map { .object(["name": .string("api-\($0)"), "waiting_reason": .string("CrashLoopBackOff")]) }
        var events: [JSONValue] = (1...count).flatMap { index -> [JSONValue] in
            [.object(["object": .string("Pod/api-\(index)"), "reason": .string("Pulled"), "type": .string("Normal"), "message": .string("pulled")]),
             .object(["object": .string("Pod/api-\(index)"), "reason": .string("BackOff"), "type": .string("Warning"),
                      "message": .string("back-off \(index)")])]
        }
        let node = JSONValue.object(["object": .string("Node/n1"), "reason": .string("DiskPressure"), "type": .string("Warning")])
        events += Array(repeating: node, count: repeats)
        return try RuleEngineTests.Harness([crashLoops], tools: [FakeAgent.read("pods"), FakeAgent.read("events")],
                                           answers: ["pods": .output(.object(["pods": .array(pods)])),
                                                     "events": .output(.object(["events": .array(events)]))])
    }

    @Test func aRuleReportsItsFirstTwentyFindingsAndSaysHowManyMore() async throws {
        let harness = try Self.harness(pods: 200, repeats: 30)
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose()
        let crashes = diagnosis.findings.filter { $0.rule == "crash-loop" }.map(\.summary)
        let expected = (1...RuleEngine.maxFindingsPerRule).map { "pod api-\($0) crash-loops: back-off \($0)" }
        #expect(crashes == expected, "the worst first, then in list order")
        #expect(diagnosis.problems.contains("rule crash-loop: 180 more findings not shown (at most 20 per rule)"))
        // The BackOff events of the 180 pods not shown are still taken in by their findings: no event floods
        // in instead. The 30 identical node events are one finding, under the cap.
        let events = diagnosis.findings.filter { $0.rule == "warning-events" }.map(\.summary)
        let expectedEvents = ["Node/n1: DiskPressure"]
        #expect(events == expectedEvents)
        #expect(!diagnosis.problems.contains { $0.hasPrefix("rule warning-events") })
        #expect(diagnosis.summary.hasPrefix("prod-db: 20 critical, 1 warning"))
    }

    /// 2,000 pods joined with 4,000 events (the engine took ~37 s when every pod scanned every event;
    /// speed is the bench's to measure, not a unit test's): capped findings, the rest counted.
    @Test func twoThousandPodsAreCappedFindings() async throws {
        let harness = try Self.harness(pods: 2000)
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose()
        let crashes = diagnosis.findings.filter { $0.rule == "crash-loop" }
        #expect(crashes.count == RuleEngine.maxFindingsPerRule)
        #expect(crashes.last?.summary == "pod api-20 crash-loops: back-off 20")
        #expect(diagnosis.problems.contains("rule crash-loop: 1980 more findings not shown (at most 20 per rule)"))
    }

    @Test func findingsWithOneTextCountOnceTowardsTheCap() throws {
        let rule = try YAMLDecoder().decode(Rule.self, from: """
            {id: r, tool: t, each: items, severity: info, finding: "{kind}"}
            """)
        let items: [JSONValue] = (0..<50).map { .object(["kind": .string($0 % 2 == 0 ? "even" : "odd \($0)")]) }
        let candidates = rule.candidates(in: ["t": .object(["items": .array(items)])])
        let capped = RuleEngine.cap(candidates, perRule: 5)
        // "even" (25 times, reported once) and "odd 1", "odd 3", "odd 5", "odd 7": five texts; 21 odd ones are left.
        let texts = Set(capped.kept.map { Template.fill(rule.finding, from: $0.element) })
        let expectedTexts: Set<String> = ["even", "odd 1", "odd 3", "odd 5", "odd 7"]
        #expect(texts == expectedTexts)
        let expectedProblems = ["rule r: 21 more findings not shown (at most 5 per rule)"]
        #expect(capped.problems == expectedProblems)
    }

    /// Values that compare equal across types (`5` and `"5.0"`, `null` and `"null"`), missing values,
    /// duplicates and elements failing the other condition: the lookup finds what the scan finds.
    @Test func anIndexedJoinMatchesTheElementTheScanWould() throws {
        let join = try YAMLDecoder().decode(Rule.Join.self, from: """
            {as: other, tool: events, each: events, where: [{field: ref, equals: "{ref}"}, {field: ok, equals: true}]}
            """)
        let values: [JSONValue?] = [.number(5), .string("5.0"), .number(5), .string("5"), .null, nil, .bool(true), .string("x"),
                                    .object(["a": .number(1)]), .number(5.5), .string("x"), .string("true"), .number(0), .string("-0")]
        let elements = values.enumerated().map { index, value -> (JSONValue, ElementSource) in
            var object: [String: JSONValue] = ["ok": .bool(index != 0 && index != 7)]
            if let value { object["ref"] = value }
            return (.object(object), ElementSource(tool: "events", list: "events", index: index))
        }
        let index = JoinIndex(join, elements: elements)
        var matched = 0
        for value in values + [.string("abc"), .string("null"), .number(5.0), .string("0x5"), .string("1e0"), .number(-0.0)] {
            let base: JSONValue = value.map { .object(["ref": $0]) } ?? .object([:])
            let found = index.firstMatch(for: base)?.1
            #expect(found == index.scan(for: base)?.1, "ref \(value?.jsonText ?? "missing")")
            if found != nil { matched += 1 }
        }
        #expect(matched >= 10, "most look-ups find something")
        // 5 and "5.0": the number 5 at 2 (the one at 0 fails `ok`), and "5.0" itself at 1, the first in list order.
        #expect(index.firstMatch(for: .object(["ref": .number(5)]))?.1.index == 2)
        #expect(index.firstMatch(for: .object(["ref": .string("5.0")]))?.1.index == 1)
        #expect(index.firstMatch(for: .object(["ref": .string("x")]))?.1.index == 10, "the first x fails ok")
    }

    @Test func eachRunbookReadsItsOwnCallOfAToolSeveralRun() async throws {
        func runbook(_ name: String, minSeconds: Int) -> String {
            """
            name: \(name)
            match: {symptoms: [stuck]}
            tools: [{tool: long_running_queries, args: {min_seconds: \(minSeconds)}}]
            rules:
              - {id: \(name)-long, tool: long_running_queries, each: queries, severity: warning, finding: "\(name): PID {pid}"}
            """
        }
        // No call of its own: reads the first result of another runbook's call.
        let reader = """
            name: reader
            match: {symptoms: [stuck]}
            tools: [{tool: server_info}]
            rules:
              - {id: reader-long, tool: long_running_queries, each: queries, severity: info, finding: "reader: PID {pid}"}
            """
        let answer: @Sendable (ToolCall) -> JSONValue = { call in
            let minimum = call.arguments["min_seconds"]?.doubleValue ?? 60
            let queries: [JSONValue] = [(1, 400.0), (2, 60.0)].filter { $0.1 >= minimum }.map { pid, seconds -> JSONValue in
                .object(["pid": .number(Double(pid)), "running_seconds": .number(seconds)])
            }
            return .object(["min_seconds": .number(minimum), "queries": .array(queries)])
        }
        let harness = try RuleEngineTests.Harness(
            [runbook("health", minSeconds: 300), runbook("locks", minSeconds: 30), reader],
            tools: [FakeAgent.read("long_running_queries"), FakeAgent.read("server_info")],
            answers: ["long_running_queries": .computed(answer), "server_info": .output(.object([:]))])
        defer { harness.folder.remove() }
        let diagnosis = await harness.diagnose()
        let summaries = diagnosis.findings.map(\.summary)
        let expected = ["health: PID 1", "locks: PID 1", "locks: PID 2", "reader: PID 1"]
        #expect(summaries == expected, "health read its 300 s threshold, locks its 30 s")
        let thresholds = harness.agent.received.filter { $0.tool == "long_running_queries" }
            .compactMap { $0.arguments["min_seconds"]?.doubleValue }.sorted()
        let expectedThresholds: [Double] = [30, 300]
        #expect(thresholds == expectedThresholds, "one call each")
    }
}

/// The cap shows a rule's worst findings, not the first in the tool's order.
struct RuleCapOrderTests {
    @Test func theWorstOfARuleAreShownNotTheFirstListed() throws {
        let rule = try YAMLDecoder().decode(Rule.self, from: """
            {id: crash, tool: pods, each: pods, group: {by: [name], worst: restarts}, severity: critical, finding: "{name} {restarts}"}
            """)
        // Thirty decoys listed first, each with 2 restarts; the real crash loop last, with 500.
        let decoys = (0..<30).map { JSONValue.object(["name": .string("aaa-\($0)"), "restarts": .number(2)]) }
        let real = JSONValue.object(["name": .string("zzz-api"), "restarts": .number(500)])
        let candidates = rule.candidates(in: ["pods": .object(["pods": .array(decoys + [real])])])
        let (kept, problems) = RuleEngine.cap(candidates, perRule: 20)
        let names = kept.map { Template.fill("{name}", from: $0.element) }
        #expect(names.contains("zzz-api"))
        #expect(kept.count == 20)
        #expect(problems == ["rule crash: 11 more findings not shown (at most 20 per rule)"])
    }
}
