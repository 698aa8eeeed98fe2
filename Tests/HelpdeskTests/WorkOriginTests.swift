import Foundation
@testable import HelpdeskCore
@testable import HelpdeskServer
import HTTPTypes
import Testing

/// What travels with queued work and what the tracer is handed from a request: bounded, well formed.
@Suite struct WorkOriginTests {
    @Test func anOriginSurvivesTheStoreAndDropsAForgedTraceParent() {
        let origin = WorkOrigin(requestID: "req-1", traceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(WorkOrigin(storedText: origin.storedText) == origin)
        let forged = #"{"request_id":"req-2","traceparent":"00-XYZ-\n-01"}"#
        #expect(WorkOrigin(storedText: forged) == WorkOrigin(requestID: "req-2", traceParent: nil))
        #expect(WorkOrigin(storedText: "not json") == nil)
        #expect(WorkOrigin(storedText: String(repeating: "a", count: 600)) == nil)
    }

    @Test func outsideTheRequestAndWithoutATracerThereIsNoOrigin() async {
        #expect(WorkOrigin.current() == nil)
        let inside = await WorkOrigin.$currentRequestID.withValue("req-9") { WorkOrigin.current() }
        #expect(inside == WorkOrigin(requestID: "req-9", traceParent: nil))
    }

    @Test func logIDsKeepOnlyIDCharacters() {
        #expect(LogCorrelation.loggable("a1b2:c3-d4_e5.f6") == "a1b2:c3-d4_e5.f6")
        #expect(LogCorrelation.loggable("abc\nlevel=error forged") == "abc_level_error_forged")
        #expect(LogCorrelation.loggable(String(repeating: "x", count: 500)).count == 128)
    }

    @Test func onlyAWellFormedTraceParentAndABoundedTraceStateReachTheTracer() {
        var headers = HTTPFields()
        headers[.traceParent] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        headers[.traceState] = "vendor=abc"
        headers[HTTPField.Name("Cookie")!] = "__Host-helpdesk_session=secret"
        #expect(RequestTracingMiddleware.incomingContext(headers) == [
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "vendor=abc"])
        headers[.traceState] = String(repeating: "y", count: 600)
        #expect(RequestTracingMiddleware.incomingContext(headers)?["tracestate"] == nil)
        headers[.traceParent] = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
        #expect(RequestTracingMiddleware.incomingContext(headers) == nil, "W3C ids are lowercase hex")
        headers[.traceParent] = "garbage"
        #expect(RequestTracingMiddleware.incomingContext(headers) == nil)
    }
}
