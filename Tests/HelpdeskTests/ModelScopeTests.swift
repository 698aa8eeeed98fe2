import Foundation
import HelpdeskAgents
import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskCore
import HelpdeskLLM
import HelpdeskOrchestrator
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Synchronization
import Testing
import Yams

/// A cluster diagnosis is about one namespace: the model's reads run in it and its proposals are
/// recorded (and judged by policy) with it, though the model left it out; a call naming another
/// namespace is refused and audited.
@Suite struct ModelScopeTests {
    static let tools: [ToolDescriptor] = [
        ToolDescriptor(name: "pods", agent: "kubernetes", action: .read, summary: "pods",
                       parameters: [ToolParameter("namespace", .string, "the namespace")]),
        ToolDescriptor(name: "rollout_undo", agent: "kubernetes", action: .write, summary: "roll a deployment back",
                       parameters: [ToolParameter("namespace", .string, "the namespace"),
                                    ToolParameter("name", .string, required: true, "the deployment")]),
    ]

    static let orders: [String: JSONValue] = ["namespace": .string("orders")]

    static func agent() -> FakeAgent {
        FakeAgent(name: "kubernetes", tools: tools, answers: ["pods": .output(.object(["pods": .array([])]))])
    }

    /// OpenGate, remembering every call policy was asked to judge without running it.
    final class AssessingGate: ToolGate {
        let inner: OpenGate
        private let assessed = Mutex<[ToolCall]>([])

        init(agents: [any Agent]) {
            inner = OpenGate(agents: agents)
        }

        var calls: [ToolCall] { assessed.withLock { $0 } }

        func catalog(for target: String?) -> [ToolDescriptor] { inner.catalog(for: target) }

        func offer(for target: String, to principal: Principal, scope: [String: JSONValue]) -> [ToolDescriptor] {
            inner.offer(for: target, to: principal, scope: scope)
        }

        func read(_ call: ToolCall, for principal: Principal, timeout: Duration, via: String) async -> GatedRead {
            await inner.read(call, for: principal, timeout: timeout, via: via)
        }

        func assess(_ call: ToolCall, for principal: Principal, via: String) -> (GateVerdict, AuditDraft) {
            assessed.withLock { $0.append(call) }
            return inner.assess(call, for: principal, via: via)
        }

        func refusal(_ call: ToolCall, for principal: Principal, via: String, reason: String) -> AuditDraft {
            inner.refusal(call, for: principal, via: via, reason: reason)
        }
    }

    /// A model turn calling `tool` with `input` (a JSON object), in the Messages API's shape.
    static func call(_ id: String, _ tool: String, _ input: String) -> ScriptedTransport.Reply {
        let content = #"{"content": [{"type": "tool_use", "id": "\#(id)", "name": "\#(tool)", "input": \#(input)}],"#
        return .init(content + #" "stop_reason": "tool_use", "usage": {}}"#)
    }

    static let done = ScriptedTransport.Reply(#"{"content": [{"type": "text", "text": "done"}], "stop_reason": "end_turn", "usage": {}}"#)

    /// What the model was told about its previous call: the first block of request `index`'s last message.
    static func told(_ transport: ScriptedTransport, _ index: Int) -> String {
        let requests = transport.requests
        guard index < requests.count, let messages = requests[index].json["messages"] as? [[String: Any]],
              let block = (messages.last?["content"] as? [[String: Any]])?.first else { return "" }
        return block["content"] as? String ?? ""
    }

    static func investigator(_ transport: ScriptedTransport) -> Investigator {
        Investigator(client: AnthropicClient(baseURL: nil, apiKey: Secret("k"), model: "m", attempts: 1, transport: transport),
                     limits: .init(maxSteps: 6, tokenBudget: 10_000))
    }

    @Test func aReadWithoutANamespaceRunsInTheDiagnosedOne() async throws {
        let transport = ScriptedTransport([Self.call("t1", "pods", "{}"), Self.call("t2", "pods", #"{"namespace": ""}"#),
                                           Self.call("t3", "pods", #"{"namespace": "orders"}"#), Self.done])
        let agent = Self.agent()
        let result = await Self.investigator(transport).investigate(target: "prod", briefing: "", gate: OpenGate(agents: [agent]),
                                                                    principal: .tester, via: "test", scope: Self.orders)
        let ran = agent.received.map(\.arguments)
        let expected: [[String: JSONValue]] = [Self.orders, Self.orders, Self.orders]
        #expect(ran == expected)
        let recorded = result.toolResults.map(\.call.arguments)
        #expect(recorded == expected, "the bundle records each call as it ran")
        #expect(result.toolResults.allSatisfy { $0.error == nil })
        let system = transport.requests.first?.json["system"] as? String ?? ""
        #expect(system.contains("in namespace \"orders\""))
    }

    @Test func aProposalIsRecordedAndJudgedWithTheDiagnosedNamespace() async throws {
        let transport = ScriptedTransport([Self.call("t1", "rollout_undo", #"{"name": "api"}"#), Self.done])
        let agent = Self.agent()
        let gate = AssessingGate(agents: [agent])
        let result = await Self.investigator(transport).investigate(target: "prod", briefing: "", gate: gate,
                                                                    principal: .tester, via: "test", scope: Self.orders)
        let expected = [ToolCall(tool: "rollout_undo", target: "prod", arguments: ["name": .string("api"), "namespace": .string("orders")])]
        let proposed = result.proposedActions
        #expect(proposed == expected)
        let judged = gate.calls
        #expect(judged == expected, "policy judged the call that would run")
        #expect(agent.received.isEmpty, "a proposal never runs")
        #expect(Self.told(transport, 1).hasPrefix("recorded as a recommended action"))
    }

    @Test func aCallNamingAnotherNamespaceIsRefusedAndAudited() async throws {
        let transport = ScriptedTransport([Self.call("t1", "pods", #"{"namespace": "payments"}"#),
                                           Self.call("t2", "rollout_undo", #"{"name": "api", "namespace": "payments"}"#), Self.done])
        let agent = Self.agent()
        let gate = AssessingGate(agents: [agent])
        let result = await Self.investigator(transport).investigate(target: "prod", briefing: "", gate: gate,
                                                                    principal: .tester, via: "test", scope: Self.orders)
        #expect(agent.received.isEmpty, "nothing ran in payments")
        #expect(gate.calls.isEmpty, "nothing was put to policy for payments")
        #expect(result.proposedActions.isEmpty)
        #expect(result.toolResults.isEmpty)
        let outcomes = result.audit.map { $0.data["outcome"] }
        let refused: [JSONValue?] = [.string("denied"), .string("denied")]
        #expect(outcomes == refused, "each refusal is audited")
        let audited = result.audit.map { $0.data["error"]?.description ?? "" }
        #expect(audited.allSatisfy { $0.contains("this diagnosis is about namespace orders") })
        for index in [1, 2] {
            let told = Self.told(transport, index)
            #expect(told.hasPrefix("refused: this diagnosis is about namespace orders"), "\(told)")
            #expect(told.contains("\"payments\""))
        }
    }

    @Test func anAlertsClusterDiagnosisBriefsTheModelAndScopesItsCalls() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let transport = ScriptedTransport([Self.call("t1", "pods", "{}"), Self.call("t2", "rollout_undo", #"{"name": "api"}"#), Self.done])
        let agent = Self.agent()
        var inventory = Infrastructure()
        inventory.k8sClusters = [.init(id: "prod")]
        let runbook = try YAMLDecoder().decode(Runbook.self,
                                               from: "name: pods\ntarget_type: kubernetes\nmatch: {fallback: true}\ntools: [{tool: pods}]\n")
        let orchestrator = Orchestrator(
            runbooks: [runbook], gate: OpenGate(agents: [agent]), inventory: inventory,
            options: .init(toolTimeout: .seconds(5), bundleDirectory: folder.file("b"), bundleRetention: .seconds(86400)), store: nil,
            investigator: Self.investigator(transport), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let targeting = AlertTargeting(inventory: inventory, targetLabels: AlertmanagerSettings().targetLabels)
        let labels = ["alertname": "KubePodCrashLooping", "cluster": "prod", "namespace": "orders", "pod": "api-1"]
        let request = targeting.request(labels: labels, annotations: ["summary": "api-1 keeps restarting"])
        let diagnosis = await orchestrator.diagnose(request)

        let ran = agent.received.map(\.arguments)
        let expected: [[String: JSONValue]] = [Self.orders, Self.orders]
        #expect(ran == expected, "the runbook's read and the model's both ran in orders")
        let proposed = diagnosis.proposedActions.map(\.call)
        let undo = [ToolCall(tool: "rollout_undo", target: "prod", arguments: ["name": .string("api"), "namespace": .string("orders")])]
        #expect(proposed == undo)
        let messages = transport.requests.first?.json["messages"] as? [[String: Any]]
        let briefing = (messages?.first?["content"] as? [[String: Any]])?.first?["text"] as? String ?? ""
        #expect(briefing.contains("Namespace: \"orders\""))
        #expect(briefing.contains("Alert summary: \"api-1 keeps restarting\""))
        #expect(briefing.contains("  \"pod\": \"api-1\""))
    }
}
