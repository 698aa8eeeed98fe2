import HelpdeskAgents
import HelpdeskCore
import Synchronization

/// An agent whose tools answer what the test says, after an optional delay, and which records calls.
public final class FakeAgent: Agent {
    public enum Answer: Sendable {
        case output(JSONValue)
        case failure(String)
        case slow(seconds: Double, JSONValue)
        /// An output made from the call, for tools whose answer depends on their arguments.
        case computed(@Sendable (ToolCall) -> JSONValue)
    }

    public let name: String
    public let tools: [ToolDescriptor]
    private let answers: [String: Answer]
    private let calls = Mutex<[ToolCall]>([])

    public init(name: String = "database", tools: [ToolDescriptor], answers: [String: Answer]) {
        self.name = name
        self.tools = tools
        self.answers = answers
    }

    public var received: [ToolCall] { calls.withLock { $0 } }

    public func run(_ call: ToolCall) async throws -> JSONValue {
        calls.withLock { $0.append(call) }
        switch answers[call.tool] {
        case .output(let value)?: return value
        case .failure(let message)?: throw ToolError(message)
        case .slow(let seconds, let value)?:
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            return value
        case .computed(let answer)?: return answer(call)
        case nil: throw ToolError("no answer scripted for \(call.tool)")
        }
    }

    /// A read tool descriptor, for building fake agents quickly.
    public static func read(_ name: String) -> ToolDescriptor {
        ToolDescriptor(name: name, agent: "database", action: .read, summary: name)
    }
}
