import Foundation
import HelpdeskAlerts
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
        for payload in payloads {
            #expect(try JSONDecoder().decode(AlertJobPayload.self, from: Data(payload.jobText.utf8)) == payload)
        }
    }
}
