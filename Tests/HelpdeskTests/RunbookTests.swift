import Foundation
import HelpdeskAgents
import HelpdeskContent
import HelpdeskCore
import HelpdeskOrchestrator
import HelpdeskShippedContent
import HelpdeskTestSupport
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
        let tools: Set<String> = ["server_info", "connection_stats", "long_running_queries", "idle_in_transaction", "blocking_locks",
                                  "replication_status", "database_sizes", "cache_hit_ratio", "vacuum_stats", "top_queries",
                                  "pods", "deployments", "events"]
        for runbook in runbooks {
            for step in runbook.tools { #expect(tools.contains(step.tool), "\(runbook.name) runs unknown tool \(step.tool)") }
            for rule in runbook.rules {
                #expect(runbook.tools.contains { $0.tool == rule.tool }, "\(runbook.name) rule \(rule.id) reads \(rule.tool), which it does not run")
                for recommendation in rule.recommend {
                    #expect(["terminate_backend", "cancel_query", "pod_logs", "rollout_restart"].contains(recommendation.tool))
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
