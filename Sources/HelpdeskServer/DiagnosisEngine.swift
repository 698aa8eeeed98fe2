import Foundation
import HelpdeskAgents
import HelpdeskAlertmanagerAgent
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskDatabaseAgent
import HelpdeskHTTPClient
import HelpdeskKubernetesAgent
import HelpdeskLLM
import HelpdeskOrchestrator
import HelpdeskStore
import Logging

/// The orchestrator over the gate, built once from the configuration (by ``Composition``) and
/// shared by the server, the API and the command line. It lists the agents' tools; it never runs them.
public struct DiagnosisEngine: Sendable {
    public let agents: [any Agent]
    public let orchestrator: Orchestrator
    /// Bounds the diagnoses the REST API runs at once (`api.max_concurrent_diagnoses`); a caller
    /// that finds it full is told to come back, not queued.
    public let apiDiagnoses: AsyncSemaphore

    /// Loads the runbooks in force from `content` (throwing their first problem); every tool call
    /// goes through `gate`.
    public init(configuration: HelpdeskConfiguration, content: ContentLibrary, gate: any ToolGate, agents: [any Agent],
                store: (any Store)?, logger: Logger) throws(RunbookLoader.LoadError) {
        let settings = configuration.diagnosis
        let runbooks = try RunbookLoader.load(from: content)
        if runbooks.isEmpty {
            logger.warning("no runbooks; every diagnosis will say no runbook matches")
        }
        self.agents = agents
        apiDiagnoses = AsyncSemaphore(permits: configuration.api.maxConcurrentDiagnoses)
        orchestrator = Orchestrator(
            runbooks: runbooks, gate: gate, inventory: configuration.infrastructure,
            options: .init(toolTimeout: settings.toolTimeout, bundleDirectory: settings.bundlesDirectory, bundleRetention: settings.bundleRetention,
                           bundlesInStore: configuration.store.driver == .postgres),
            store: store, investigator: Self.investigator(configuration.llm, toolTimeout: settings.toolTimeout, logger: logger),
            logger: logger)
    }

    /// The model-led investigator the configuration asks for, or `nil` (runbook mode) when there is
    /// none or its key is missing: a missing key is a warning, never a failure to start.
    static func investigator(_ settings: LLMSettings, toolTimeout: Duration, logger: Logger) -> Investigator? {
        let limits = Investigator.Limits(maxSteps: settings.maxSteps, tokenBudget: settings.tokenBudget, toolTimeout: toolTimeout)
        switch settings.provider {
        case .none:
            logger.info("diagnoses run in runbook mode (no llm.provider configured)")
            return nil
        case .anthropic:
            guard let key = settings.apiKey, let model = settings.model else {
                logger.warning("llm.provider is anthropic but ANTHROPIC_API_KEY (or llm.api_key_file) is not set; diagnoses run in runbook mode")
                return nil
            }
            return Investigator(client: AnthropicClient(baseURL: settings.baseURL, apiKey: key, model: model, maxTokens: settings.maxTokens,
                                                        timeout: settings.timeout), limits: limits)
        case .openai:
            guard let model = settings.model, settings.apiKey != nil || settings.baseURL != nil else {
                logger.warning("llm.provider is openai but OPENAI_API_KEY (or llm.api_key_file) is not set; diagnoses run in runbook mode")
                return nil
            }
            return Investigator(client: OpenAIClient(baseURL: settings.baseURL, apiKey: settings.apiKey, model: model, maxTokens: settings.maxTokens,
                                                     timeout: settings.timeout), limits: limits)
        }
    }

    /// The agents this build has, over the configured inventory. `environment` is what kubectl
    /// runs with (PATH, HOME, in-cluster variables).
    public static func makeAgents(_ configuration: HelpdeskConfiguration, environment: [String: String], logger: Logger) -> [any Agent] {
        let settings = configuration.diagnosis
        return [
            DatabaseAgent(inventory: configuration.infrastructure, statementTimeout: settings.statementTimeout, rowCap: settings.rowCap, logger: logger),
            KubernetesAgent(inventory: configuration.infrastructure, environment: environment, timeout: settings.toolTimeout),
            // Silences at each receiver's Alertmanager (alertmanager.receivers.NAME.url); a write, so never run by a diagnosis.
            AlertmanagerAgent(receivers: configuration.alertmanager.receivers, transport: AsyncHTTPTransport(), timeout: settings.toolTimeout),
        ]
    }

    /// An engine over given agents, for tests and embedding.
    public init(agents: [any Agent], orchestrator: Orchestrator, maxConcurrentAPIDiagnoses: Int = APISettings().maxConcurrentDiagnoses) {
        self.agents = agents
        self.orchestrator = orchestrator
        apiDiagnoses = AsyncSemaphore(permits: maxConcurrentAPIDiagnoses)
    }

    /// The descriptor of `tool` in `agentName`'s list, for validating a request before it reaches the gate.
    public func tool(_ name: String, agent agentName: String? = nil) -> ToolDescriptor? {
        agents.filter { agentName == nil || $0.name == agentName }.flatMap(\.tools).first { $0.name == name }
    }
}
