import Foundation
import HelpdeskAgents
import HelpdeskCore

/// One piece of a message in a provider-neutral conversation.
public enum LLMContent: Sendable, Equatable {
    case text(String)
    case toolCall(LLMToolCall)
    case toolResult(callID: String, content: String, isError: Bool)
}

public struct LLMMessage: Sendable, Equatable {
    public enum Role: String, Sendable { case user, assistant }

    public var role: Role
    public var content: [LLMContent]

    public init(role: Role, content: [LLMContent]) {
        self.role = role
        self.content = content
    }
}

public struct LLMToolCall: Sendable, Equatable {
    public var id: String
    public var name: String
    public var input: [String: JSONValue]

    public init(id: String, name: String, input: [String: JSONValue]) {
        self.id = id
        self.name = name
        self.input = input
    }
}

/// A tool as offered to a model: name, description and a JSON Schema for its input.
public struct LLMToolSpec: Sendable {
    public var name: String
    public var description: String
    public var inputSchema: JSONValue

    public init(_ descriptor: ToolDescriptor) {
        name = descriptor.name
        description = descriptor.summary + (descriptor.action == .read ? "" : " (\(descriptor.action.rawValue): only recorded as a recommendation, never run by you)")
        var properties: [String: JSONValue] = [:]
        for parameter in descriptor.parameters {
            properties[parameter.name] = .object(["type": .string(parameter.kind.rawValue), "description": .string(parameter.summary)])
        }
        inputSchema = .object([
            "type": .string("object"), "properties": .object(properties),
            "required": .array(descriptor.parameters.filter(\.required).map { .string($0.name) }),
        ])
    }
}

/// A token count from a model server's reply: missing, negative, fractional or absurd values
/// (which would trap `Int(_:)`) count as what they can safely be.
func tokenCount(_ value: JSONValue?) -> Int {
    guard let number = value?.doubleValue, number.isFinite, number > 0 else { return 0 }
    return number >= Double(Int32.max) ? Int(Int32.max) : Int(number)
}

public struct LLMUsage: Sendable, Equatable {
    public var inputTokens = 0
    public var outputTokens = 0

    public init(inputTokens: Int = 0, outputTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }

    public var total: Int { inputTokens + outputTokens }
}

/// What the model said in one turn.
public struct LLMTurn: Sendable {
    public var text: String
    public var toolCalls: [LLMToolCall]
    /// `end_turn`, `tool_use`, `max_tokens`, `stop`, `tool_calls`, `length`: the provider's word.
    public var stopReason: String
    public var usage: LLMUsage
}

/// A chat model with tool calling.
public protocol LLMClient: Sendable {
    var providerName: String { get }
    func complete(system: String, messages: [LLMMessage], tools: [LLMToolSpec]) async throws -> LLMTurn
}

/// Why a model call failed, in words for the diagnosis.
public struct LLMError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// Whether trying again later may help (rate limits, overload, server errors, network).
    public var retryable: Bool
    public var retryAfter: Duration?

    public init(_ message: String, retryable: Bool = false, retryAfter: Duration? = nil) {
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}
