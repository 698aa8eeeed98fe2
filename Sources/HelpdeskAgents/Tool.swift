import HelpdeskCore

/// What a tool may do, which governance checks before it runs.
public enum ActionClass: String, Sendable, Codable, CaseIterable {
    case read, write, destructive
}

/// One named input of a tool.
public struct ToolParameter: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case integer, number, string
    }

    public var name: String
    public var kind: Kind
    public var required: Bool
    public var summary: String

    public init(_ name: String, _ kind: Kind, required: Bool = false, _ summary: String) {
        self.name = name
        self.kind = kind
        self.required = required
        self.summary = summary
    }
}

/// A tool an agent offers: its name, action class and inputs.
public struct ToolDescriptor: Sendable, Codable, Equatable {
    public var name: String
    public var agent: String
    public var action: ActionClass
    public var summary: String
    public var parameters: [ToolParameter]

    public init(name: String, agent: String, action: ActionClass, summary: String, parameters: [ToolParameter] = []) {
        self.name = name
        self.agent = agent
        self.action = action
        self.summary = summary
        self.parameters = parameters
    }

    /// Checks `arguments` against the declared parameters: required ones present, no unknown
    /// ones, types right. Returns the problem in words, or `nil`.
    public func validate(_ arguments: [String: JSONValue]) -> String? {
        for parameter in parameters where parameter.required && arguments[parameter.name] == nil {
            return "\(name) needs the argument \(parameter.name) (\(parameter.summary))"
        }
        for (key, value) in arguments {
            guard let parameter = parameters.first(where: { $0.name == key }) else {
                let known = parameters.map(\.name).joined(separator: ", ")
                return "\(name) takes no argument \(key)" + (known.isEmpty ? "" : "; it takes: \(known)")
            }
            switch (parameter.kind, value) {
            case (.integer, .number(let number)) where number.rounded() == number: continue
            case (.integer, .string(let text)) where Int64(text) != nil: continue
            case (.number, .number): continue
            case (.number, .string(let text)) where Double(text) != nil: continue
            case (.string, .string): continue
            default: return "\(name): \(key) must be \(parameter.kind == .integer ? "a whole number" : "a \(parameter.kind.rawValue)"), got \(value.jsonText)"
            }
        }
        return nil
    }
}

/// A request to run one tool against one inventory target.
public struct ToolCall: Sendable, Codable, Equatable, Hashable {
    public var tool: String
    public var target: String
    public var arguments: [String: JSONValue]

    public init(tool: String, target: String, arguments: [String: JSONValue] = [:]) {
        self.tool = tool
        self.target = target
        self.arguments = arguments
    }

    /// `terminate_backend(pid=4242)` — how a call reads in messages and logs.
    public var summary: String {
        let args = arguments.keys.sorted().map { "\($0)=\(arguments[$0]!.description)" }.joined(separator: ", ")
        return "\(tool)(\(args)) on \(target)"
    }

    public func integer(_ name: String) -> Int64? {
        switch arguments[name] {
        case .number(let value)?: Int64(exactly: value.rounded())
        case .string(let text)?: Int64(text)
        default: nil
        }
    }

    public func number(_ name: String) -> Double? {
        arguments[name]?.doubleValue
    }
}

extension JSONValue: Hashable {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(jsonText)
    }
}

/// What running a tool produced: its output, or the error that stopped it. A failed tool is a
/// result too, so a diagnosis and its bundle always account for every tool they ran.
public struct ToolResult: Sendable {
    public var call: ToolCall
    public var action: ActionClass
    public var output: JSONValue?
    public var error: String?
    public var duration: Duration

    public init(call: ToolCall, action: ActionClass, output: JSONValue?, error: String?, duration: Duration) {
        self.call = call
        self.action = action
        self.output = output
        self.error = error
        self.duration = duration
    }
}

/// A tool failure worded for the person reading the diagnosis.
public struct ToolError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// An agent: a set of tools over one kind of target.
public protocol Agent: Sendable {
    var name: String { get }
    var tools: [ToolDescriptor] { get }
    /// Runs one call; throws ``ToolError`` (or any error) when it cannot.
    func run(_ call: ToolCall) async throws -> JSONValue
    /// Whether this agent has anything to look at for `target` (a database on a VM has no pods).
    func applies(to target: String) -> Bool
    /// What `call` would change (pods, rows, sessions), read from the target when it depends on
    /// its state (`scale` compares with the current replica count). Asked before policy decides.
    func impact(of call: ToolCall) async throws -> ToolImpact
    /// `call` with the identity of what it acts on added, when that identity can change between
    /// request and execution (a PID that another session may reuse): recorded with the approval
    /// request, and checked by the tool when the approved call runs, which refuses on a mismatch.
    func pin(_ call: ToolCall) async throws -> ToolCall
}

extension Agent {
    public func applies(to target: String) -> Bool { true }
}

/// Runs `body`, failing with a ``ToolError`` ("timed out after 10s") when it takes longer than
/// `limit`. The body is cancelled then; one that ignores cancellation is still awaited.
public func withTimeout<Value: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> Value) async throws -> Value {
    try await withThrowingTaskGroup(of: Value?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let value = try await group.next() ?? nil else {
            throw ToolError("timed out after \(limit.compactText)")
        }
        return value
    }
}
