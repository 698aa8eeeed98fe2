import Foundation
import HelpdeskCore

/// Anthropic's Messages API (`POST /v1/messages`) with tool use.
public struct AnthropicClient: LLMClient {
    public let providerName = "anthropic"
    let baseURL: URL
    let apiKey: Secret
    let model: String
    let maxTokens: Int
    let poster: JSONPoster

    public static let defaultBaseURL = URL(string: "https://api.anthropic.com")!

    public init(baseURL: URL?, apiKey: Secret, model: String, maxTokens: Int = 2048, timeout: Duration = .seconds(60),
                attempts: Int = 3, backoff: Duration = .seconds(1), transport: any HTTPTransport = AsyncHTTPTransport()) {
        self.baseURL = baseURL ?? Self.defaultBaseURL
        self.apiKey = apiKey
        self.model = model
        self.maxTokens = maxTokens
        poster = JSONPoster(transport: transport, timeout: timeout, attempts: attempts, backoff: backoff)
    }

    public func complete(system: String, messages: [LLMMessage], tools: [LLMToolSpec]) async throws -> LLMTurn {
        let body: JSONValue = .object([
            "model": .string(model),
            "max_tokens": .number(Double(maxTokens)),
            "system": .string(system),
            "messages": .array(messages.map(Self.encode)),
            "tools": .array(tools.map { .object(["name": .string($0.name), "description": .string($0.description), "input_schema": $0.inputSchema]) }),
        ])
        let url = baseURL.appendingPathComponent("v1").appendingPathComponent("messages")
        let reply = try await poster.post(url, headers: [("x-api-key", apiKey.reveal()), ("anthropic-version", "2023-06-01")], body: body) {
            $0.value(at: "error.message")?.description
        }
        return try Self.decode(reply)
    }

    static func encode(_ message: LLMMessage) -> JSONValue {
        .object([
            "role": .string(message.role.rawValue),
            "content": .array(message.content.map { content in
                switch content {
                case .text(let text):
                    .object(["type": .string("text"), "text": .string(text)])
                case .toolCall(let call):
                    .object(["type": .string("tool_use"), "id": .string(call.id), "name": .string(call.name), "input": .object(call.input)])
                case .toolResult(let id, let text, let isError):
                    .object(["type": .string("tool_result"), "tool_use_id": .string(id), "content": .string(text), "is_error": .bool(isError)])
                }
            }),
        ])
    }

    static func decode(_ reply: JSONValue) throws -> LLMTurn {
        guard let blocks = reply["content"]?.arrayValue else {
            throw LLMError("the Messages API reply has no content list")
        }
        var text: [String] = []
        var calls: [LLMToolCall] = []
        for block in blocks {
            switch block["type"]?.description {
            case "text": text.append(block["text"]?.description ?? "")
            case "tool_use":
                guard let id = block["id"]?.description, let name = block["name"]?.description else {
                    throw LLMError("a tool_use block lacks its id or name")
                }
                guard case .object(let input)? = block["input"] ?? .object([:]) else { throw LLMError("tool_use input for \(name) is not an object") }
                calls.append(LLMToolCall(id: id, name: name, input: input))
            default: continue  // thinking and other block types carry nothing we act on
            }
        }
        let usage = LLMUsage(inputTokens: tokenCount(reply.value(at: "usage.input_tokens")),
                             outputTokens: tokenCount(reply.value(at: "usage.output_tokens")))
        return LLMTurn(text: text.joined(separator: "\n"), toolCalls: calls, stopReason: reply["stop_reason"]?.description ?? "", usage: usage)
    }
}
