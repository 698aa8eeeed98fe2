import Tracing

extension Span {
    /// Sets a string attribute through the redactor: attributes leave the process as logs do, so
    /// they get the same treatment. Keys name ids and outcomes; values never carry bodies or SQL.
    public func setRedacted(_ key: String, _ value: String?, redactor: Redactor) {
        guard let value else { return }
        // Redacted whole, then cut: a cut first could split a secret the redactor then misses.
        attributes[key] = String(redactor.redact(value).prefix(256))
    }

    /// Marks the span failed, with no message: error texts quote values and SQL (the audit log keeps them).
    public func failed() {
        setStatus(SpanStatus(code: .error))
    }
}
