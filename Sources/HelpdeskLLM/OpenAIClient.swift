import Foundation
import HelpdeskCore

/// OpenAI-compatible Chat Completions (`POST {base}/chat/completions`) with function tools: OpenAI
/// itself, and vLLM, Ollama and llama.cpp servers that speak the same API.
public struct OpenAIClient: LLMClient {
    public let providerName = "openai"
    let baseURL: URL
    let apiKey: Secret?
    let model: String
    let maxTokens: Int
    let poster: JSONPoster

    public static let defaultBaseURL = URL(string: "https://api.openai.com/v1")!

    public init(baseURL: URL?, apiKey: Secret?, model: String, maxTokens: Int = 2048, timeout: Duration = .seconds(60),
                attempts: Int = 3, backoff: Duration = .seconds(1), transport: any HTTPTransport = AsyncHTTPTransport()) {
        self.baseURL = baseURL ?? Self.defaultBaseURL
        self.apiKey = apiKey
        self.model = model
        self.maxTokens = maxTokens
        poster = JSONPoster(transport: transport, timeout: timeout, attempts: attempts, backoff: backoff)
    }

    public func complete(system: String, messages: [LLMMessage], tools: [LLMToolSpec]) async throws -> LLMTurn {
        var wire: [JSONValue] = [.object(["role": .string("system"), "content": .string(system)])]
        for message in messages { wire += Self.encode(message) }
        var body: [String: JSONValue] = [
            "model": .string(model),
            "max_tokens": .number(Double(maxTokens)),
            "messages": .array(wire),
        ]
        if !tools.isEmpty {
            body["tools"] = .array(tools.map { tool in
                .object(["type": .string("function"), "function": .object([
                    "name": .string(tool.name), "description": .string(tool.description), "parameters": tool.inputSchema,
                ])])
            })
        }
        let url = baseURL.appendingPathComponent("chat").appendingPathComponent("completions")
        let headers = apiKey.map { [("authorization", "Bearer \($0.reveal())")] } ?? []
        let reply = try await poster.post(url, headers: headers, body: .object(body)) { $0.value(at: "error.message")?.description }
        return try Self.decode(reply)
    }

    /// One neutral message becomes one or more Chat Completions messages (each tool result is its own).
    static func encode(_ message: LLMMessage) -> [JSONValue] {
        switch message.role {
        case .assistant:
            let text = message.content.compactMap { if case .text(let text) = $0 { text } else { nil } }.joined(separator: "\n")
            let calls: [JSONValue] = message.content.compactMap { content in
                guard case .toolCall(let call) = content else { return nil }
                return .object(["id": .string(call.id), "type": .string("function"),
                                "function": .object(["name": .string(call.name), "arguments": .string(JSONValue.object(call.input).jsonText)])])
            }
            var object: [String: JSONValue] = ["role": .string("assistant"), "content": text.isEmpty ? .null : .string(text)]
            if !calls.isEmpty { object["tool_calls"] = .array(calls) }
            return [.object(object)]
        case .user:
            var out: [JSONValue] = []
            var text: [String] = []
            for content in message.content {
                switch content {
                case .text(let value): text.append(value)
                case .toolResult(let id, let result, _):
                    out.append(.object(["role": .string("tool"), "tool_call_id": .string(id), "content": .string(result)]))
                case .toolCall: continue
                }
            }
            if !text.isEmpty { out.append(.object(["role": .string("user"), "content": .string(text.joined(separator: "\n"))])) }
            return out
        }
    }

    static func decode(_ reply: JSONValue) throws -> LLMTurn {
        guard let choice = reply["choices"]?.arrayValue?.first, let message = choice["message"] else {
            throw LLMError("the Chat Completions reply has no choices[0].message")
        }
        var calls: [LLMToolCall] = []
        for call in message["tool_calls"]?.arrayValue ?? [] {
            guard let id = call["id"]?.description, let name = call.value(at: "function.name")?.description else {
                throw LLMError("a tool call lacks its id or function name")
            }
            let argumentsText = call.value(at: "function.arguments")?.description ?? "{}"
            guard case .object(let input)? = try? JSONValue(parsing: argumentsText.isEmpty ? "{}" : argumentsText) else {
                throw LLMError("the arguments of tool call \(name) are not a JSON object: \(argumentsText.prefix(200))")
            }
            calls.append(LLMToolCall(id: id, name: name, input: input))
        }
        let content = message["content"]
        let usage = LLMUsage(inputTokens: tokenCount(reply.value(at: "usage.prompt_tokens")),
                             outputTokens: tokenCount(reply.value(at: "usage.completion_tokens")))
        return LLMTurn(text: content == .null ? "" : content?.description ?? "", toolCalls: calls,
                       stopReason: choice["finish_reason"]?.description ?? "", usage: usage)
    }
}
