import Foundation
import HelpdeskAlerts
import HelpdeskCore
import Testing

/// The alert job payload is written by hand for speed; it must read back as what was queued.
@Suite struct AlertJobPayloadTests {
    @Test func writtenTextDecodesToTheSamePayload() throws {
        let payloads = [
            AlertJobPayload(fingerprint: "f1", startsAt: "2026-12-03T10:00:00Z", endsAt: nil, groupKey: "{}:{alertname=\"A/B\"}", groupStatus: "firing",
                            groupSize: 3, labels: ["alertname": "A\"B", "path": "/var\\log\n"], annotations: [:], channel: nil, link: nil),
            AlertJobPayload(fingerprint: "f2", startsAt: "s", endsAt: "e", groupKey: "g", groupStatus: "resolved", groupSize: 1,
                            labels: [:], annotations: ["summary": "é 😀 \u{1}"], channel: "C1", link: "http://am/#/alerts?x=1"),
        ]
        var withStormKey = payloads[1]
        withStormKey.stormKey = "receiver:team \"x\""
        for payload in payloads + [withStormKey] {
            #expect(try JSONDecoder().decode(AlertJobPayload.self, from: Data(payload.jobText.utf8)) == payload)
            // The intake writes it from the record's label texts: the same bytes as the object's JSON.
            let labels = JSONValue.object(payload.labels.mapValues(JSONValue.string)).jsonText
            let annotations = JSONValue.object(payload.annotations.mapValues(JSONValue.string)).jsonText
            #expect(payload.jobText(labelsText: labels, annotationsText: annotations) == payload.jobText)
        }
    }
}
