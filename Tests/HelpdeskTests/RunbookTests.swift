import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskOrchestrator
import HelpdeskServer
import HelpdeskShippedContent
import HelpdeskTestSupport
import Logging
import Testing
import Yams

@Suite struct RunbookTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private func runbook(_ yaml: String) throws -> Runbook {
        try YAMLDecoder().decode(Runbook.self, from: yaml)
    }

    @Test func shippedRunbooksLoadAndUseOnlyKnownTools() throws {
        let runbooks = try RunbookLoader.load(from: ContentLibrary.builtIn())
        #expect(try RunbookLoader.load(directory: Self.repositoryRoot + "/runbooks").map(\.name) == runbooks.map(\.name))
        #expect(runbooks.count >= 5)
        #expect(runbooks.filter(\.match.fallback).map(\.name) == ["kubernetes-workloads", "postgres-health"])
        // The tools the server's agents offer: runbooks run and follow up with reads, and recommend any tool.
        let agents = DiagnosisEngine.makeAgents(HelpdeskConfiguration(), environment: [:],
                                                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let catalog = agents.flatMap { $0.tools }
        let reads = Set(catalog.filter { $0.action == .read }.map(\.name))
        let known = Set(catalog.map(\.name))
        for runbook in runbooks {
            for step in runbook.tools { #expect(reads.contains(step.tool), "\(runbook.name) runs \(step.tool), which is no read tool") }
            for rule in runbook.rules {
                #expect(runbook.tools.contains { $0.tool == rule.tool }, "\(runbook.name) rule \(rule.id) reads \(rule.tool), which it does not run")
                for follow in rule.follow {
                    #expect(reads.contains(follow.tool), "\(runbook.name) rule \(rule.id) follows up with \(follow.tool), which is no read tool")
                }
                for recommendation in rule.recommend {
                    #expect(known.contains(recommendation.tool), "\(runbook.name) rule \(rule.id) recommends unknown tool \(recommendation.tool)")
                }
            }
        }
    }

    @Test func unknownKeysAreErrorsWithTheirPath() {
        let yaml = """
            name: x
            match: {symptoms: [a]}
            tools: [{tool: server_info}]
            rules:
              - id: r
                tool: server_info
                when: [{field: f, abov: 3}]
                severity: warning
                finding: f
            """
        #expect {
            try runbook(yaml)
        } throws: { error in
            let message = RunbookLoader.describe(error as! DecodingError)
            return message.contains("rules.0.when.0") && message.contains("unknown key \"abov\"")
        }
    }

    @Test func conditionNeedsExactlyOneComparison() {
        let yaml = """
            name: x
            match: {symptoms: [a]}
            tools: [{tool: t}]
            rules: [{id: r, tool: t, when: [{field: f, above: 1, below: 3}], severity: info, finding: f}]
            """
        #expect(throws: DecodingError.self) { try runbook(yaml) }
    }

    @Test func rulesRaiseFindingsPerElementWithFilledText() throws {
        let book = try runbook("""
            name: locks
            match: {symptoms: [lock]}
            tools: [{tool: blocking_locks}]
            rules:
              - id: idle-blocker
                tool: blocking_locks
                each: blockers
                when:
                  - {field: state, contains: idle in transaction}
                  - {field: blocked_count, at_least: 1}
                  - {field: user, in: [app, etl]}
                severity: critical
                finding: "PID {pid} ({user}) blocks {blocked_count}; missing {nope}"
                recommend:
                  - {tool: terminate_backend, args: {pid: "{pid}"}, reason: "free {pid}"}
            """)
        let output = try JSONValue(parsing: """
            {"blockers": [
              {"pid": 42, "user": "app", "state": "idle in transaction", "blocked_count": 3},
              {"pid": 43, "user": "app", "state": "active", "blocked_count": 1},
              {"pid": 44, "user": "root", "state": "idle in transaction", "blocked_count": 2},
              {"pid": 45, "user": "etl", "state": "idle in transaction", "blocked_count": 0}
            ]}
            """)
        let findings = book.rules[0].evaluate(output, target: "prod-db")
        #expect(findings.map(\.summary) == ["PID 42 (app) blocks 3; missing ?"])
        let action = try #require(findings.first?.recommendedActions.first)
        #expect(action.call.tool == "terminate_backend")
        #expect(action.call.target == "prod-db")
        #expect(action.call.arguments == ["pid": .number(42)])
        #expect(action.reason == "free 42")
        #expect(action.finding == "PID 42 (app) blocks 3; missing ?", "the action knows the finding that recommended it, for approvers")
        #expect(findings.first?.evidence["pid"] == .number(42))
    }

    @Test func templatesFallBackJoinListsAndCutLongValues() throws {
        let book = try runbook("""
            name: t
            match: {symptoms: [a]}
            tools: [{tool: vacuum_stats}]
            rules:
              - id: r
                tool: vacuum_stats
                severity: info
                finding: "vacuumed {last_vacuum|never}; tags {tags}; none {empty|none}; n {n}; missing {nope}; blank {nope|}; {group.count}"
              - {id: long, tool: vacuum_stats, severity: info, finding: "{long}"}
            """)
        let output = JSONValue.object([
            "last_vacuum": .null, "tags": .array([.string("a"), .number(2)]), "empty": .array([]), "n": .number(5),
            "long": .string(String(repeating: "x", count: 400)),
        ])
        let summary = book.rules[0].evaluate(output, target: "prod-db").first?.summary
        #expect(summary == "vacuumed never; tags a, 2; none none; n 5; missing ?; blank ; 1")
        let long = try #require(book.rules[1].evaluate(output, target: "prod-db").first?.summary)
        #expect(long.count == 300 && long.hasSuffix("…"))
    }

    @Test func aRecommendationIsMadeOnlyWhereItsConditionsHold() throws {
        let book = try runbook("""
            name: undo
            match: {symptoms: [a]}
            tools: [{tool: replicasets}]
            rules:
              - id: crash-after-rollout
                tool: replicasets
                each: replicasets
                severity: critical
                finding: "{deployment} revision {revision} crashes"
                recommend:
                  - tool: rollout_undo
                    args: {name: "{deployment}", to_revision: "{previous_revision}"}
                    reason: the previous revision ran
                    when: [{field: previous_available, at_least: 1}]
            """)
        let output = try JSONValue(parsing: """
            {"replicasets": [{"deployment": "orders-api", "revision": 5, "previous_revision": 4, "previous_available": 3},
                             {"deployment": "billing", "revision": 2, "previous_revision": 1, "previous_available": 0},
                             {"deployment": "fresh", "revision": 1, "previous_revision": null, "previous_available": null}]}
            """)
        let findings = book.rules[0].evaluate(output, target: "prod-k8s")
        let counts = findings.map(\.recommendedActions.count)
        let expectedCounts: [Int] = [1, 0, 0]
        #expect(counts == expectedCounts)
        let arguments = findings.first?.recommendedActions.first?.call.arguments
        let expected: [String: JSONValue] = ["name": .string("orders-api"), "to_revision": .number(4)]
        #expect(arguments == expected)
    }

    @Test func anUnknownKeyInAJoinIsALoadErrorNamingIt() {
        let yaml = """
            name: x
            match: {symptoms: [a]}
            tools: [{tool: pods}, {tool: events}]
            rules:
              - id: r
                tool: pods
                each: pods
                join: [{as: e, tool: events, each: events, wher: [{field: reason, equals: Failed}]}]
                severity: warning
                finding: f
            """
        #expect {
            try RunbookLoader.parse(yaml: yaml, file: "x.yaml")
        } throws: { error in
            let message = "\(error)"
            return message.contains("x.yaml") && message.contains("rules.0.join.0") && message.contains("unknown key \"wher\"")
        }
    }

    @Test func aJoinOnAToolTheRunbookDoesNotRunIsALoadError() {
        let yaml = """
            name: x
            match: {symptoms: [a]}
            tools: [{tool: pods}]
            rules:
              - {id: pending, tool: pods, each: pods, join: [{as: e, tool: events, each: events}], severity: warning, finding: f}
            """
        #expect {
            try RunbookLoader.parse(yaml: yaml, file: "x.yaml")
        } throws: { error in
            let message = "\(error)"
            return message.contains("rules.0.join.0.tool") && message.contains("rule pending joins the tool events")
        }
    }

    @Test func asNamesAreUniquePerRuleAndGroupsNeedAField() {
        let twice = """
            name: x
            match: {symptoms: [a]}
            tools: [{tool: pods}, {tool: events}]
            rules:
              - id: r
                tool: pods
                join: [{as: logs, tool: events}]
                follow: [{as: logs, tool: pod_logs}]
                severity: info
                finding: f
            """
        #expect {
            try RunbookLoader.parse(yaml: twice, file: "x.yaml")
        } throws: { error in "\(error)".contains("uses \"as: logs\" twice") }
        let ungrouped = """
            name: x
            match: {symptoms: [a]}
            tools: [{tool: pods}]
            rules: [{id: r, tool: pods, group: {by: []}, severity: info, finding: f}]
            """
        #expect {
            try RunbookLoader.parse(yaml: ungrouped, file: "x.yaml")
        } throws: { error in "\(error)".contains("group.by needs at least one field path") }
    }

    @Test func findingsFromAnOlderServerDecodeWithoutAdviceOrCount() throws {
        let json = #"{"rule": "r", "tool": "t", "severity": "warning", "summary": "s", "evidence": {}, "recommended_actions": []}"#
        let finding = try JSONDecoder().decode(Finding.self, from: Data(json.utf8))
        #expect(finding.advice == nil && finding.count == 1)
        let advised = #"{"rule": "r", "tool": "t", "severity": "warning", "summary": "s", "evidence": {}, "recommended_actions": [], "advice": "a", "count": 3}"#
        let decoded = try JSONDecoder().decode(Finding.self, from: Data(advised.utf8))
        #expect(decoded.advice == "a" && decoded.count == 3)
    }

    @Test func symptomMatchingUsesWholeWordsAndPhrases() throws {
        let book = try runbook("""
            name: c
            match: {symptoms: [lock, "too many connections"]}
            tools: [{tool: t}]
            """)
        #expect(book.matches(symptom: "Queries wait on a LOCK"))
        #expect(!book.matches(symptom: "the clock is wrong"))
        #expect(book.matches(symptom: "FATAL: too many connections for role app"))
    }
}
