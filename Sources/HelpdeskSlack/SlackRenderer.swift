import Foundation
import HelpdeskContent
import HelpdeskCore
import Mustache

/// Escapes values for the inside of a JSON string, for templates that render Block Kit JSON: values
/// Slack hands back as they were (button values), and text already escaped for mrkdwn (the storm's).
/// Text from outside uses `SLACK` (``SlackContentType``), which also escapes mrkdwn.
struct JSONStringContentType: MustacheContentType {
    func escapeText(_ text: String) -> String {
        let encoded = JSONValue.string(text).jsonText
        return String(encoded.dropFirst().dropLast())
    }
}

/// Renders Slack messages from the Mustache templates of `templates/slack/` (shipped in the binary,
/// or overridden from `slack.templates_dir`).
public struct SlackRenderer: Sendable {
    /// Block Kit's limits, applied to view models before rendering.
    public enum Limit {
        public static let blocks = 50
        public static let sectionText = 3000
        public static let buttonLabel = 75
        public static let buttonValue = 2000
    }

    let library: MustacheLibrary

    /// A renderer over template files, such as `ContentLibrary.files(.slackTemplates)`.
    public init(templates: [ContentFile]) throws(ContentError) {
        Self.registerContentTypes()
        library = try MustacheLibrary(templates: templates)
    }

    /// A renderer over the templates of one folder only (tests with templates of their own).
    public init(directory: String) async throws {
        Self.registerContentTypes()
        library = try await MustacheLibrary(directory: directory)
    }

    /// Templates name these in `{{% CONTENT_TYPE: … }}`, which is resolved while parsing: call this
    /// before parsing Slack templates other than through a renderer (`helpdesk config check`).
    public static func registerContentTypes() {
        MustacheContentTypes.register(JSONStringContentType(), named: "JSON")
        MustacheContentTypes.register(SlackContentType(), named: "SLACK")
    }

    /// Renders `template` with `context`; the result is checked to be JSON, so a template mistake
    /// becomes a plain-text message rather than a message Slack rejects. `fallbackText` is plain text
    /// (it may hold alert labels or what someone typed): it is escaped and cut like a section.
    public func render(_ template: String, _ context: [String: Any], fallbackText: String) -> JSONValue {
        guard let text = library.render(context, withTemplate: template), var message = try? JSONValue(parsing: text),
              case .object(var object) = message else {
            return .object(["response_type": .string("ephemeral"), "text": .string(Mrkdwn.escaped(Mrkdwn.fitting(fallbackText, Limit.sectionText)))])
        }
        if case .array(let blocks)? = object["blocks"], blocks.count > Limit.blocks {
            object["blocks"] = .array(Array(blocks.prefix(Limit.blocks - 1)) + [.object([
                "type": .string("context"),
                "elements": .array([.object(["type": .string("mrkdwn"), "text": .string("… \(blocks.count - Limit.blocks + 1) more not shown; see the incident.")])]),
            ])])
            message = .object(object)
        }
        return message
    }
}

/// Cuts `text` to `limit` characters, ending in an ellipsis when it had to cut.
public func truncated(_ text: String, _ limit: Int) -> String {
    text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
}
