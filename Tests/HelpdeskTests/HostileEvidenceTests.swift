import Foundation
import HelpdeskCore
@testable import HelpdeskKubernetesAgent
@testable import HelpdeskOrchestrator
import Testing

/// What the inspected systems say is outside data: a log line, a metrics quantity or an owner
/// reference must not crash the bot, grow a message without bound or point a finding elsewhere.
struct HostileEvidenceTests {
    @Test func aLogLineOfCombiningMarksIsCutByScalarsNotCharacters() {
        let line = "error: e" + String(repeating: "\u{0301}", count: 20_000)
        let shown = PodLogKeyLines.shown(line)
        #expect(shown.unicodeScalars.count <= 300)
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
}
