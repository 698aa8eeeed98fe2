import Foundation
import HelpdeskAgents
import HelpdeskCore

/// A `create_silence` call, checked and turned into Alertmanager's `postableSilence`.
public struct SilenceSpec: Sendable, Equatable {
    /// One equality matcher: `name="value"`, never a regular expression.
    public struct Matcher: Sendable, Equatable, Encodable {
        public var name: String
        public var value: String
        public var isRegex: Bool
        public var isEqual: Bool

        public init(name: String, value: String) {
            self.name = name
            self.value = value
            isRegex = false
            isEqual = true
        }
    }

    /// The body of `POST /api/v2/silences`.
    public struct Body: Sendable, Equatable, Encodable {
        public var matchers: [Matcher]
        public var startsAt: String
        public var endsAt: String
        public var createdBy: String
        public var comment: String
    }

    public let body: Body
    public let duration: Duration

    /// Checks the call's arguments: `matchers` a JSON object of label names to values (at least one
    /// non-empty value: Alertmanager refuses a silence that matches everything, and so do we, before
    /// asking it), `duration` between a minute and ``AlertmanagerAgent/maxDuration``.
    public init(_ call: ToolCall, now: Date) throws {
        guard case .string(let text)? = call.arguments["matchers"],
              let labels = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)), !labels.isEmpty else {
            throw ToolError("create_silence: matchers must be a JSON object of label names to values, such as {\"alertname\": \"DiskFull\"}")
        }
        guard labels.values.contains(where: { !$0.isEmpty }) else {
            throw ToolError("create_silence: at least one matcher needs a non-empty value")
        }
        let durationText = call.arguments["duration"]?.description ?? ""
        guard let duration = Duration(parsing: durationText), duration >= .seconds(60), duration <= AlertmanagerAgent.maxDuration else {
            throw ToolError("create_silence: duration must be from 1m to \(AlertmanagerAgent.maxDuration.compactText), like 1h; got \"\(durationText)\"")
        }
        self.duration = duration
        let createdBy = call.arguments["created_by"]?.description ?? ""
        let comment = call.arguments["comment"]?.description ?? ""
        let matchers = labels.keys.sorted().map { name in Matcher(name: name, value: labels[name] ?? "") }
        body = Body(matchers: matchers, startsAt: now.formatted(.iso8601),
                    endsAt: now.addingTimeInterval(duration.seconds).formatted(.iso8601),
                    createdBy: createdBy.isEmpty ? "helpdesk" : createdBy,
                    comment: comment.isEmpty ? "silenced from helpdesk for \(duration.compactText)" : comment)
    }
}
