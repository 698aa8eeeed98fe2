import Foundation
import HelpdeskAgents
import HelpdeskCore
import HelpdeskGovernance

/// What a diagnosis's Run button carries: the recommended call, and the incident and finding it came
/// from, so an approval request it opens can show approvers why. The call is what goes through the
/// gate; the origin is only shown, and only when its incident is on record for the call's target
/// (the gate checks: a value can come back edited, from a browser form).
public struct RunActionButton: Sendable, Equatable {
    /// Characters of the finding a button carries: enough to recognise it, short enough to leave room for the call.
    public static let findingLimit = 200

    public var call: ToolCall
    public var origin: ApprovalOrigin?

    public init(call: ToolCall, origin: ApprovalOrigin? = nil) {
        self.call = call
        self.origin = origin
    }

    /// Reads a button's value: `{"tool","target","arguments"}` as every Run button has carried, with
    /// `incident` and `finding` when it has them. `nil` when it is not a tool call.
    public init?(value: String) {
        guard let call = try? JSONDecoder().decode(ToolCall.self, from: Data(value.utf8)) else { return nil }
        let fields = try? JSONValue(parsing: value)
        var origin: ApprovalOrigin?
        if case .string(let incident)? = fields?["incident"], !incident.isEmpty {
            var finding: String?
            if case .string(let text)? = fields?["finding"] { finding = text }
            origin = ApprovalOrigin(incidentID: incident, finding: finding)
        }
        self.init(call: call, origin: origin)
    }

    /// The button's value with as much of the origin as fits in `limit` characters: all of it, else
    /// without the finding, else the call alone. `nil` when even the call does not fit: a cut value
    /// would be JSON the click cannot read.
    public func value(fitting limit: Int = SlackRenderer.Limit.buttonValue) -> String? {
        let bare: [String: JSONValue] = ["tool": .string(call.tool), "target": .string(call.target), "arguments": .object(call.arguments)]
        var candidates: [[String: JSONValue]] = []
        if let origin {
            var withIncident = bare
            withIncident["incident"] = .string(origin.incidentID)
            if let finding = origin.finding {
                var full = withIncident
                full["finding"] = .string(truncated(finding, Self.findingLimit))
                candidates.append(full)
            }
            candidates.append(withIncident)
        }
        candidates.append(bare)
        return candidates.lazy.map { JSONValue.object($0).jsonText }.first { $0.count <= limit }
    }
}
