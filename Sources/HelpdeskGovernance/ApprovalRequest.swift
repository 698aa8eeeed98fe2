import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskStore

/// The exact call an approval request is about, as stored with it and read back by everything
/// that shows or runs it (Slack, email, the page, the command line, the execution).
public struct ApprovalRequest: Sendable, Codable, Equatable {
    public var tool: String
    public var target: String
    public var arguments: [String: JSONValue]
    public var action: ActionClass
    public var resource: Resource?
    public var purpose: String?
    public var via: String?
    /// What the call said it would change when the request was opened; its session is kept once,
    /// beside this in the stored JSON (`evidence`, ``ApprovalRecord/evidence``).
    public var impact: ToolImpact?

    public init(tool: String, target: String, arguments: [String: JSONValue], action: ActionClass, resource: Resource?,
                purpose: String?, via: String?, impact: ToolImpact?) {
        self.tool = tool
        self.target = target
        self.arguments = arguments
        self.action = action
        self.resource = resource
        self.purpose = purpose
        self.via = via
        self.impact = impact
    }

    public var call: ToolCall { ToolCall(tool: tool, target: target, arguments: arguments) }

    /// `terminate_backend({"pid":4242})` as messages show it.
    public var callText: String { "\(tool)(\(JSONValue.object(arguments).jsonText))" }
}

extension ApprovalRecord {
    /// The stored request, typed; `nil` only for a row no version of this code wrote.
    public var call: ApprovalRequest? {
        try? JSONDecoder().decode(ApprovalRequest.self, from: Data(request.jsonText.utf8))
    }

    /// The stored decision, typed.
    public var policyDecision: Decision? {
        try? JSONDecoder().decode(Decision.self, from: Data(decision.jsonText.utf8))
    }
}
