import Logging
import Tracing

/// The ids a log line belongs to, set once around the work they name and added to every line
/// logged inside it — by any logger, in any module — so one search follows an alert from its
/// webhook (request id) through its diagnosis (fingerprint, incident) to its approval.
public enum LogCorrelation {
    public enum Key: String, Sendable, CaseIterable {
        case alertFingerprint = "alert_fingerprint"
        case approvalID = "approval_id"
        case incidentID = "incident_id"
    }

    @TaskLocal static var ids: [Key: String] = [:]

    /// Runs `body` with `key` set to `value` on every line it logs (`nil` leaves the ids as they are).
    public static func with<T>(_ key: Key, _ value: String?, _ body: () async throws -> T) async rethrows -> T {
        guard let value, !value.isEmpty else { return try await body() }
        var ids = Self.ids
        ids[key] = loggable(value)
        return try await $ids.withValue(ids) { try await body() }
    }

    /// Ids come from outside (an alert's fingerprint is any string): only id characters are kept, so
    /// a value cannot break a log line or forge the next one.
    static func loggable(_ value: String) -> String {
        String(String.UnicodeScalarView(value.unicodeScalars.prefix(128).map { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-_.:".unicodeScalars.contains(scalar))
                ? scalar : "_"
        }))
    }

    /// The current id for `key`, if set.
    public static func current(_ key: Key) -> String? { ids[key] }

    /// What the log handler adds to each line: the request id, the ids above and the trace id.
    public static let metadataProvider = Logger.MetadataProvider {
        var metadata: Logger.Metadata = [:]
        if let requestID = WorkOrigin.currentRequestID { metadata["request_id"] = "\(requestID)" }
        for (key, value) in ids { metadata[key.rawValue] = "\(value)" }
        // Only while a real tracer runs: the trace id lets a log line be found from its trace.
        if WorkOrigin.tracing, InstrumentationContext.current != nil, let traceParent = WorkOrigin.current()?.traceParent {
            metadata["trace_id"] = "\(traceParent.split(separator: "-")[1])"
        }
        return metadata
    }
}
