import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskSecurity
import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// secbot's bookkeeping in the store: progress marks committed with the work they record, the log read
/// after a seq, cooldowns derived from the audit log, dry-run, and a restart's resume.
@Suite struct SecbotStoreTests {
    static let mark = SecbotFollower.positionMark

    @Test(arguments: StoreKind.allCases)
    func progressMarksCommitWithTheirChangeSetAndTheLogIsReadAfterASeq(kind: StoreKind) async throws {
        try await withTemporaryStore(kind) { store in
            #expect(try await store.progress.position(Self.mark) == nil)
            try await store.apply(ChangeSet(audit: (1...5).map { AuditDraft(kind: "request_received", principal: "p\($0)") },
                                            progress: [ProgressMark(name: Self.mark, position: 2)]))
            #expect(try await store.progress.position(Self.mark) == 2)
            try await store.apply(ChangeSet(progress: [ProgressMark(name: Self.mark, position: 4)]))
            #expect(try await store.progress.position(Self.mark) == 4)
            #expect(try await store.progress.position("govbot.schedule") == nil)

            #expect(try await store.audit.events(afterSeq: 2, limit: 2).map(\.seq) == [3, 4])
            #expect(try await store.audit.events(afterSeq: 0, limit: 100).map { $0.principal ?? "" } == (1...5).map { "p\($0)" })
            #expect(try await store.audit.events(afterSeq: 5, limit: 10).isEmpty)

            // A change set that fails moves no mark: the mark commits with the work or not at all.
            let incident = IncidentRecord(id: "inc_twice", createdAt: Date(), target: "t", trigger: "secbot: test", summary: "s",
                                          severity: "warning", findingCount: 1, bundlePath: "/nonexistent", bundleBytes: 0)
            await #expect(throws: (any Error).self) {
                try await store.apply(ChangeSet(incidents: [incident, incident], progress: [ProgressMark(name: Self.mark, position: 9)]))
            }
            #expect(try await store.progress.position(Self.mark) == 4)
        }
    }

    @Test func aSecondIdenticalDetectionWithinTheCooldownIsNotReported() async throws {
        try await SecbotHarness.with { harness in
            let write = { (who: String) in
                SecbotHarness.toolCall(by: who, "terminate_backend", on: "prod-db", .destructive, arguments: ["pid": .number(7)])
            }
            try await harness.append(write("mallory"))
            #expect(try await harness.detections().map(\.target) == ["unauthorized_destructive:mallory"])
            try await harness.append(write("mallory"))
            #expect(try await harness.detections().isEmpty, "the same kind about the same principal, within the cooldown")
            try await harness.append(write("trent"))
            #expect(try await harness.detections().map(\.target) == ["unauthorized_destructive:trent"])
            #expect(try await harness.reported().count == 2)
        }
    }

    @Test func dryRunWritesNothingButAdvances() async throws {
        try await SecbotHarness.with { harness in
            try await harness.append(SecbotHarness.toolCall(by: "mallory", "terminate_backend", on: "prod-db", .destructive))
            let head = try #require(try await harness.store.audit.head())
            #expect(try await harness.detections(dryRun: true).map(\.target) == ["unauthorized_destructive:mallory"])
            #expect(try await harness.reported().isEmpty)
            #expect(try await harness.store.incidents.list(limit: 10).isEmpty)
            #expect(try await harness.store.slackOutbox.entries(channel: nil).isEmpty)
            #expect(try await harness.store.audit.head() == head, "not one audit event written")
            #expect(try await harness.store.progress.position(Self.mark) == head.seq)
            // Examined in dry-run (secbot.dry_run in serve): a later run in earnest does not report it again.
            #expect(try await harness.detections().isEmpty)
        }
    }

    @Test func aRestartResumesFromTheMarkWithNoGapAndNoDoubleReport() async throws {
        try await SecbotHarness.with { fresh in
            var harness = fresh
            harness.settings.highVolumePerMinute = 4
            for _ in 0..<3 { try await harness.append(AuditDraft(kind: "request_received", principal: "runner")) }
            try await harness.append(SecbotHarness.toolCall(by: "mallory", "terminate_backend", on: "prod-db", .destructive))
            #expect(try await harness.detections().map(\.target) == ["unauthorized_destructive:mallory"])

            // Restarted: a fourth event by the runner completes a burst only with the three read before the
            // restart (the warm-up), and mallory's call is not reported again.
            try await harness.append(AuditDraft(kind: "request_received", principal: "runner"))
            #expect(try await harness.detections().map(\.target) == ["high_volume:runner"])
            #expect(try await harness.detections().isEmpty)
            #expect(Set(try await harness.reported().compactMap(\.target)) == ["unauthorized_destructive:mallory", "high_volume:runner"])
            let head = try #require(try await harness.store.audit.head())
            #expect(try await harness.store.progress.position(Self.mark) == head.seq)
        }
    }

    @Test func oneFollowerExaminesEachEventOnceAcrossPasses() async throws {
        try await SecbotHarness.with { harness in
            var follower = try await harness.follower()
            try await harness.append(SecbotHarness.toolCall(by: "mallory", "terminate_backend", on: "prod-db", .destructive))
            let first = try await follower.pass()
            #expect(first.examined == 1 && first.detections.count == 1 && first.caughtUp)
            // Its own event, then nothing.
            let second = try await follower.pass()
            let third = try await follower.pass()
            #expect(second.examined == 1 && second.detections.isEmpty)
            #expect(third.examined == 0)
            let head = try await harness.store.audit.head()
            #expect(follower.position == head?.seq)
        }
    }
}
