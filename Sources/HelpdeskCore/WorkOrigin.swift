import Foundation
import Instrumentation
import Synchronization
import Tracing

/// Where a piece of work started: the request that caused it and the span that queued it.
///
/// Captured when a job or an outgoing message is queued and restored when a worker picks it up, so
/// one search for a request id, or one trace, follows an alert from the webhook through its jobs,
/// the tools and the post — across processes, since it travels in the store.
public struct WorkOrigin: Sendable, Equatable, Codable {
    /// The `X-Request-Id` of the HTTP request the work came from.
    public var requestID: String?
    /// The W3C `traceparent` of the span that queued the work; `nil` while tracing is off.
    public var traceParent: String?

    /// The request id of the work running in this task (set by the HTTP middleware and by workers).
    @TaskLocal public static var currentRequestID: String?

    /// Whether a tracer exports spans (set once at start): without one there is no trace to carry,
    /// and queuing work or logging a line skips asking for it.
    public static var tracing: Bool { tracingFlag.load(ordering: .relaxed) }
    private static let tracingFlag = Atomic<Bool>(false)

    public static func tracingStarted() {
        tracingFlag.store(true, ordering: .relaxed)
    }

    public init(requestID: String? = nil, traceParent: String? = nil) {
        self.requestID = requestID
        self.traceParent = traceParent
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", traceParent = "traceparent"
    }

    /// The origin of the work running now, or `nil` when it has neither a request id nor a trace.
    public static func current() -> WorkOrigin? {
        var carrier = TraceCarrier()
        if tracing, let context = InstrumentationContext.current {
            InstrumentationSystem.instrument.inject(context, into: &carrier, using: TraceCarrier.Injector())
        }
        let origin = WorkOrigin(requestID: currentRequestID, traceParent: carrier.fields["traceparent"].flatMap(Self.acceptableTraceParent))
        return origin.requestID == nil && origin.traceParent == nil ? nil : origin
    }

    /// The trace context to continue in: the queued span's, or a new root when there is none.
    public var context: InstrumentationContext {
        var context = InstrumentationContext.topLevel
        if let traceParent {
            InstrumentationSystem.instrument.extract(TraceCarrier(fields: ["traceparent": traceParent]), into: &context,
                                                     using: TraceCarrier.Extractor())
        }
        return context
    }

    /// Runs `body` as this origin's work: its request id on the task and its trace as the parent context.
    public func run<T>(_ body: () async throws -> T) async rethrows -> T {
        try await WorkOrigin.$currentRequestID.withValue(requestID) {
            try await InstrumentationContext.withValue(context) { try await body() }
        }
    }

    /// The text kept in the store (compact JSON); `nil` for no origin.
    /// Built by hand (no encoder, no dictionary): it is written inside the store's single-writer section.
    public var storedText: String {
        var text = "{"
        if let requestID { text += #""request_id":"# + JSONValue.stringLiteral(requestID) }
        if let traceParent { text += (requestID == nil ? "" : ",") + #""traceparent":"# + JSONValue.stringLiteral(traceParent) }
        return text + "}"
    }

    /// Reads what ``storedText`` wrote; anything else (a hand-edited row) is no origin.
    public init?(storedText: String?) {
        guard let storedText, storedText.utf8.count <= 512,
              var origin = try? JSONDecoder().decode(WorkOrigin.self, from: Data(storedText.utf8)) else { return nil }
        origin.traceParent = origin.traceParent.flatMap(Self.acceptableTraceParent)
        self = origin
    }

    /// `version-traceid-spanid-flags` in lowercase hex, as W3C Trace Context defines it: anything
    /// else read back from the store is dropped rather than handed to the tracer.
    public static func acceptableTraceParent(_ value: String) -> String? {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, [2, 32, 16, 2] == parts.map(\.utf8.count),
              value.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || (48...57).contains($0) || (97...102).contains($0) })
        else { return nil }
        return value
    }
}

/// A header map for the tracer to write its propagation fields into and read them from.
struct TraceCarrier {
    var fields: [String: String] = [:]

    struct Injector: Instrumentation.Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout TraceCarrier) {
            carrier.fields[key.lowercased()] = value
        }
    }

    struct Extractor: Instrumentation.Extractor {
        func extract(key: String, from carrier: TraceCarrier) -> String? {
            carrier.fields[key.lowercased()]
        }
    }
}
