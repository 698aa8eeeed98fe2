import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskSecurity
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// What the attacker review of secbot found, kept found.
@Suite struct SecbotReviewTests {
    @Test func theMetricCatalogKnowsEveryDetectionKind() {
        #expect(Set(MetricCatalog.secbotDetectionKinds) == Set(DetectionKind.allCases.map(\.rawValue)))
    }

    @Test func aCallTheGateRefusedIsNotAnUnauthorizedWrite() async throws {
        try await SecbotHarness.with { harness in
            // As `Governance.refusal` writes it: the call did not run.
            var refused = SecbotHarness.toolCall(by: "bob", "silence", on: "alertmanager:main", .write)
            refused = AuditDraft(kind: refused.kind, principal: refused.principal, target: refused.target,
                                 data: .object(["call": SecbotHarness.call("silence", "alertmanager:main", .write, [:]),
                                                "outcome": .string("denied"), "error": .string("no url")]))
            try await harness.append(refused)
            #expect(try await harness.detections().isEmpty)
        }
    }

    @Test func anAllowAfterTheCallDoesNotExcuseIt() async throws {
        try await SecbotHarness.with { harness in
            try await harness.append(SecbotHarness.toolCall(by: "bob", "cancel_query", on: "prod-db", .write))
            // Many later allows for the same call: none was on record when it ran.
            for _ in 0..<60 {
                try await harness.append(SecbotHarness.decision(by: "bob", "cancel_query", on: "prod-db", .write, .allow))
            }
            let targets = try await harness.detections().map(\.target)
            #expect(targets.contains("unauthorized_destructive:bob"))
        }
    }

    @Test func anAllowBuriedUnderLaterDecisionsStillExcusesItsCall() async throws {
        try await SecbotHarness.with { harness in
            try await harness.append(SecbotHarness.decision(by: "bob", "cancel_query", on: "prod-db", .write, .allow))
            try await harness.append(SecbotHarness.toolCall(by: "bob", "cancel_query", on: "prod-db", .write))
            for _ in 0..<60 {
                try await harness.append(SecbotHarness.decision(by: "bob", "server_info", on: "prod-db", .read, .allow))
            }
            let targets = try await harness.detections().map(\.target)
            #expect(!targets.contains("unauthorized_destructive:bob"), "\(targets)")
        }
    }

    @Test func theChannelGetsAtMostItsHourlyMessagesAndTheRestIsStillRecorded() async throws {
        var harness = try await SecbotHarness()
        harness.settings.maxMessagesPerHour = 2
        do {
            // Made-up subjects, each an injection-looking argument (a warning).
            for name in ["m1", "m2", "m3", "m4"] {
                try await harness.append(SecbotHarness.decision(by: name, "cancel_query", on: "prod-db", .write, .deny,
                                                                arguments: ["backend_start": .string("x' OR '1'='1")]))
            }
            #expect(try await harness.detections().count == 4)
            #expect(try await harness.reported().count == 4, "every detection is on record")
            #expect(try await harness.store.incidents.list(limit: 10).count == 4)
            #expect(try await harness.store.slackOutbox.entries(channel: SecbotHarness.channel).count == 2)
            // A critical detection past the budget is posted all the same.
            try await harness.append(SecbotHarness.toolCall(by: "m5", "terminate_backend", on: "prod-db", .destructive))
            #expect(try await harness.detections().map(\.target) == ["unauthorized_destructive:m5"])
            #expect(try await harness.store.slackOutbox.entries(channel: SecbotHarness.channel).count == 3)
        } catch {
            await harness.close()
            throw error
        }
        await harness.close()
    }

    @Test func oneAllowLetsOneCallRunNotEveryLaterOne() async throws {
        try await SecbotHarness.with { harness in
            func named(_ draft: AuditDraft, _ id: String) -> AuditDraft {
                guard case .object(var data) = draft.data else { return draft }
                data["decision_id"] = .string(id)
                return AuditDraft(kind: draft.kind, principal: draft.principal, target: draft.target, data: .object(data))
            }
            try await harness.append(named(SecbotHarness.decision(by: "bob", "cancel_query", on: "prod-db", .write, .allow), "dec_one"))
            try await harness.append(named(SecbotHarness.toolCall(by: "bob", "cancel_query", on: "prod-db", .write), "dec_one"))
            #expect(try await harness.detections().isEmpty, "the call its decision allowed")
            // Written around the gate: a second call on the same decision, and one naming none that exists.
            try await harness.append(named(SecbotHarness.toolCall(by: "bob", "cancel_query", on: "prod-db", .write), "dec_one"))
            let reused = try await harness.detections()
            #expect(reused.map(\.target) == ["unauthorized_destructive:bob"] && reused.first?.summary.contains("reuses") == true)
            try await harness.append(named(SecbotHarness.toolCall(by: "carol", "cancel_query", on: "prod-db", .write), "dec_made_up"))
            #expect(try await harness.detections().map(\.target) == ["unauthorized_destructive:carol"])
        }
    }

    @Test func aPreviewWritesNothingAndHidesNothing() async throws {
        try await SecbotHarness.with { harness in
            try await harness.append(SecbotHarness.toolCall(by: "mallory", "terminate_backend", on: "prod-db", .destructive))
            let head = try await harness.store.audit.head()
            #expect(try await harness.detections(preview: true).map(\.target) == ["unauthorized_destructive:mallory"])
            #expect(try await harness.store.audit.head() == head)
            #expect(try await harness.store.progress.position(SecbotFollower.positionMark) == nil)
            #expect(try await harness.detections().map(\.target) == ["unauthorized_destructive:mallory"])
        }
    }

    @Test func twoFollowersOfOneLogCannotBothRecordTheSameStretch() async throws {
        try await SecbotHarness.with { harness in
            try await harness.append(SecbotHarness.toolCall(by: "mallory", "terminate_backend", on: "prod-db", .destructive))
            var first = try await harness.follower()
            var second = try await harness.follower()
            _ = try await first.pass()
            do {
                _ = try await second.pass()
                Issue.record("the second follower recorded the stretch the first did")
            } catch StoreError.markMoved(let name, let expected, let found) {
                #expect(name == SecbotFollower.positionMark && expected == 0 && found > 0)
            }
            #expect(try await harness.reported().count == 1)
        }
    }

    @Test func aLogCutShortIsReportedAndFollowedAgainFromItsEnd() async throws {
        try await SecbotHarness.with { harness in
            for _ in 0..<3 {
                try await harness.append(SecbotHarness.decision(by: "bob", "server_info", on: "prod-db", .read, .allow))
            }
            #expect(try await harness.detections().isEmpty)
            let end = try #require(try await harness.store.audit.head()).seq
            // The mark as a follower that read further would have left it (the log's tail since deleted).
            try await harness.store.apply(ChangeSet(progress: [ProgressMark(name: SecbotFollower.positionMark, position: end + 50)]))
            let found = try await harness.detections()
            #expect(found.map(\.target).contains("hash_mismatch:chain"))
            let mark = try await harness.store.progress.position(SecbotFollower.positionMark)
            let head = try await harness.store.audit.head()
            #expect(mark == head?.seq, "followed again from the log's end, to its end")
        }
    }

    @Test func eachWideningReloadIsReportedEvenWithinTheCooldown() async throws {
        try await SecbotHarness.with { harness in
            for probe in ["bob cancel_query prod-db", "bob terminate_backend prod-db"] {
                try await harness.append(AuditDraft(kind: "policy_reloaded", principal: "helpdesk", target: "(built in)", data: .object([
                    "policies": .number(1),
                    "widened": .array([.object(["probe": .string(probe), "before": .string("deny"), "after": .string("allow")])]),
                ])))
                _ = try await harness.detections()
            }
            #expect(try await harness.reported().filter { $0.target == "policy_widened:policies" }.count == 2)
        }
    }
}
