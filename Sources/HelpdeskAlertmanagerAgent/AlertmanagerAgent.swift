import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskHTTPClient

/// Alertmanager as an agent: one write tool, `create_silence`, that silences the alerts matching a
/// set of labels through Alertmanager's API v2. Its target is a receiver's name (policy sees the
/// resource `alertmanager:RECEIVER`); `alertmanager.receivers.NAME.url` says which Alertmanager
/// that is. Like every agent it is reached only through the gate.
public struct AlertmanagerAgent: Agent {
    public let name = "alertmanager"
    /// Receiver name → the base URL of the Alertmanager that sends its notifications.
    let endpoints: [String: URL]
    let transport: any HTTPTransport
    let timeout: Duration
    let now: @Sendable () -> Date
    /// Longer silences belong in Alertmanager itself, where they are reviewed as such.
    public static let maxDuration: Duration = .seconds(7 * 86400)
    public static let silenceTool = "create_silence"

    public init(receivers: [AlertmanagerSettings.Receiver], transport: any HTTPTransport, timeout: Duration = .seconds(10),
                now: @escaping @Sendable () -> Date = { Date() }) {
        var endpoints: [String: URL] = [:]
        for receiver in receivers {
            if let url = receiver.url { endpoints[receiver.name] = url }
        }
        self.endpoints = endpoints
        self.transport = transport
        self.timeout = timeout
        self.now = now
    }

    public var tools: [ToolDescriptor] {
        [ToolDescriptor(name: Self.silenceTool, agent: name, action: .write,
                        summary: "Silence, at the receiver's Alertmanager and for a while, the alerts whose labels equal these.",
                        parameters: [
                            ToolParameter("matchers", .string, required: true, "the labels to match, as a JSON object {\"alertname\": \"…\", …}"),
                            ToolParameter("duration", .string, required: true, "how long, like 1h (1m to \(Self.maxDuration.compactText))"),
                            ToolParameter("comment", .string, "why, shown in Alertmanager"),
                            ToolParameter("created_by", .string, "who asked, shown in Alertmanager"),
                        ])]
    }

    /// Only receivers with an Alertmanager URL: databases and clusters are never offered a silence.
    public func applies(to target: String) -> Bool {
        endpoints[target] != nil
    }

    /// A silence changes no rows, pods or sessions (nor ends a transaction): it stops notifications,
    /// for a bounded time.
    public func impact(of call: ToolCall) async throws -> ToolImpact {
        ToolImpact.none
    }

    public func run(_ call: ToolCall) async throws -> JSONValue {
        guard call.tool == Self.silenceTool else {
            throw ToolError("the alertmanager agent has no tool \(call.tool); it has: \(Self.silenceTool)")
        }
        guard let base = endpoints[call.target] else {
            let known = endpoints.keys.sorted().joined(separator: ", ")
            throw ToolError("receiver \(call.target) has no Alertmanager URL: set alertmanager.receivers.\(call.target).url"
                            + (known.isEmpty ? "" : " (receivers with one: \(known))"))
        }
        let spec = try SilenceSpec(call, now: now())
        let url = base.appendingPathComponent("api/v2/silences")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = try encoder.encode(spec.body)
        let reply = try await transport.postJSON(url, headers: [("accept", "application/json")], body: body, timeout: timeout)
        let host = base.host ?? base.absoluteString
        guard (200..<300).contains(reply.status) else {
            throw ToolError("Alertmanager at \(host) refused the silence: HTTP \(reply.status) "
                            + String(decoding: reply.body.prefix(300), as: UTF8.self))
        }
        guard let created = try? JSONDecoder().decode(SilenceCreated.self, from: reply.body), !created.silenceID.isEmpty else {
            throw ToolError("Alertmanager at \(host) answered without a silenceID")
        }
        var matchers: [String: JSONValue] = [:]
        for matcher in spec.body.matchers { matchers[matcher.name] = .string(matcher.value) }
        return .object([
            "silence_id": .string(created.silenceID), "alertmanager": .string(base.absoluteString),
            "starts_at": .string(spec.body.startsAt), "ends_at": .string(spec.body.endsAt),
            "duration": .string(spec.duration.compactText), "matchers": .object(matchers),
        ])
    }
}

/// `{"silenceID": "…"}`, Alertmanager's answer to a new silence.
struct SilenceCreated: Decodable {
    var silenceID: String
}
