import Foundation
import HelpdeskCore
@testable import HelpdeskStore
import Testing

/// The writer builds the unkeyed canonical text from literals escaped beforehand; chains written
/// before (and `helpdesk audit verify`) use the sorted-key JSON of the event. The two must be the
/// same bytes, or new events stop verifying.
@Suite struct AuditCanonicalTests {
    @Test(arguments: [
        ("request_received", "slack:U1 (Ann \"the\" admin)", nil, JSONValue.object(["text": .string("line\nbreak \\ \"quoted\" \u{1} é 😀")])),
        ("policy_decision", nil, "db:prod/orders", .object(["reasons": .array([.string("a"), .number(3), .null, .bool(true)])])),
        ("k\u{0}ind", "", "", .object([:])),
        ("approval_decided", "email:a@b.example", "apr_x \t tab", .object(["n": .number(-12.5), "nested": .object(["z": .string("</script>")])])),
    ] as [(String, String?, String?, JSONValue)])
    func literalsGiveTheSortedKeyJSONOfTheEvent(kind: String, principal: String?, target: String?, data: JSONValue) {
        let draft = AuditDraft(kind: kind, principal: principal, target: target, data: data)
        let prev = String(repeating: "ab", count: 32)
        let fast = AuditHashing.canonical(seq: 123_456, id: "evt_123456_abcdef", atMicroseconds: 1_764_000_000_123_456,
                                          literals: draft.literals, prevHash: prev)
        let slow = AuditHashing.canonical(seq: 123_456, id: "evt_123456_abcdef", atMicroseconds: 1_764_000_000_123_456, kind: draft.kind,
                                          principal: draft.principal, target: draft.target, data: draft.dataText, prevHash: prev)
        #expect(fast == slow)
        #expect(AuditHashing.hash(fast) == AuditHashing.hash(slow))
    }
}
