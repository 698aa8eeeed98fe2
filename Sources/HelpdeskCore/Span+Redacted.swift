import Tracing

extension Span {
    /// Sets a string attribute through the redactor: attributes leave the process as logs do, so
    /// they get the same treatment. Keys name ids and outcomes; values never carry bodies or SQL.
    public func setRedacted(_ key: String, _ value: String?, redactor: Redactor) {
        guard let value else { return }
        attributes[key] = redactor.redact(String(value.prefix(256)))
    }

    /// Marks the span failed with a redacted message, never the raw error (which may quote input).
    public func fail(_ message: String, redactor: Redactor) {
        setStatus(SpanStatus(code: .error, message: redactor.redact(String(message.prefix(256)))))
    }
}
