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
            for name in ["m1", "m2", "m3", "m4"] {
                try await harness.append(SecbotHarness.toolCall(by: name, "terminate_backend", on: "prod-db", .destructive))
            }
            #expect(try await harness.detections().count == 4)
            #expect(try await harness.reported().count == 4, "every detection is on record")
            #expect(try await harness.store.incidents.list(limit: 10).count == 4)
            #expect(try await harness.store.slackOutbox.entries(channel: SecbotHarness.channel).count == 2)
        } catch {
            await harness.close()
            throw error
        }
        await harness.close()
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
