import Foundation
import Logging
import Synchronization

/// A swift-log handler that writes human-readable or JSON lines, with every line passed through a
/// ``Redactor`` first: message, metadata values and source alike.
public struct HelpdeskLogHandler: LogHandler {
    public typealias Sink = @Sendable (String) -> Void

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    private let label: String
    private let format: LogFormat
    private let redactor: Redactor
    private let sink: Sink

    public init(label: String, format: LogFormat, level: Logger.Level, redactor: Redactor, sink: @escaping Sink = HelpdeskLogHandler.standardError) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.redactor = redactor
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line: String
        switch format {
        case .human: line = humanLine(event, merged)
        case .json: line = jsonLine(event, merged)
        }
        sink(line + "\n")
    }

    private func humanLine(_ event: LogEvent, _ metadata: Logger.Metadata) -> String {
        var line = "\(Self.timestamp()) \(event.level) \(label): \(redactor.redact(event.message.description))"
        for key in metadata.keys.sorted() {
            line += " \(key)=\(redactor.redact(metadata[key]!.description))"
        }
        return line
    }

    private func jsonLine(_ event: LogEvent, _ metadata: Logger.Metadata) -> String {
        var object: [String: String] = [:]
        for (key, value) in metadata { object[key] = redactor.redact(value.description) }
        object["ts"] = Self.timestamp()
        object["level"] = event.level.rawValue
        object["logger"] = label
        object["msg"] = redactor.redact(event.message.description)
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private static func timestamp() -> String {
        Date.now.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    private static let stderrLock = Mutex(())

    /// Writes to standard error, one whole line at a time.
    public static let standardError: Sink = { line in
        stderrLock.withLock { _ in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}
