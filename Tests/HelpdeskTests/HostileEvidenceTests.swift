import Foundation
import HelpdeskCore
@testable import HelpdeskKubernetesAgent
@testable import HelpdeskOrchestrator
import Testing

/// What the inspected systems say is outside data: a log line, a metrics quantity or an owner
/// reference must not crash the bot, grow a message without bound or point a finding elsewhere.
struct HostileEvidenceTests {
    @Test func aLogLineOfCombiningMarksIsCutInTheFindingByScalarsNotCharacters() {
        let line = "error: e" + String(repeating: "\u{0301}", count: 20_000)
        // The agent keeps the line whole (redaction of configured secrets comes after it, in the gate);
        // a finding's text cuts it.
        let filled = Template.fill("{line}", from: .object(["line": .string(line)]))
        #expect(filled.unicodeScalars.count <= 300)
    }

    @Test func aQuantityTooLargeForAnIntegerIsUnknownNotATrap() {
        let huge = Double(String(repeating: "9", count: 300))!
        #expect(PodMetrics.mebibytes(huge) == "?")
        #expect(PodMetrics.millicores(.infinity) == "?")
        #expect(PodMetrics.mebibytes(263_192_576) == "251Mi")
    }

    @Test func aPodBelongsToItsControllerNotToTheFirstReferenceItNames() throws {
        let pod = try JSONDecoder().decode(JSONValue.self, from: Data("""
            {"metadata": {"name": "evil", "ownerReferences": [
                {"kind": "ReplicaSet", "name": "victim-7f", "uid": "1"},
                {"kind": "ReplicaSet", "name": "evil-rs", "uid": "2", "controller": true}]},
             "spec": {"containers": [{"name": "app", "image": "x"}]}, "status": {"phase": "Running"}}
            """.utf8))
        let summary = KubernetesSummaries.pod(pod)
        #expect(summary["owner_name"] == .string("evil-rs"))
    }

    /// The scheduler's events have `lastTimestamp: null` and only `eventTime`: they still have an age,
    /// and the newest come first.
    @Test func anEventWithOnlyAnEventTimeHasAnAge() throws {
        let now = Date(timeIntervalSince1970: 1_764_900_000)
        let items = try JSONDecoder().decode([JSONValue].self, from: Data("""
            [{"type": "Warning", "reason": "Unhealthy", "involvedObject": {"kind": "Pod", "name": "a"}, "lastTimestamp": "2025-12-04T00:00:00Z"},
             {"type": "Warning", "reason": "FailedScheduling", "involvedObject": {"kind": "Pod", "name": "b"},
              "lastTimestamp": null, "eventTime": "2025-12-05T01:59:00.123456Z"}]
            """.utf8))
        let events = KubernetesSummaries.events(items, now: now)
        #expect(events.first?["reason"] == .string("FailedScheduling"))
        let age = events.first?["age_seconds"]?.doubleValue ?? -1
        #expect(age > 0 && age < 3600)
    }
}
