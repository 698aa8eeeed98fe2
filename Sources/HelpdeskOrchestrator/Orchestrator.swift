import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskIncidents
import HelpdeskLLM
import HelpdeskStore
import Logging

/// What to diagnose and why.
public struct DiagnosisRequest: Sendable {
    public var target: String
    public var symptom: String?
    /// The `alertname` of the alert that asked, when an alert did.
    public var alertName: String?
    /// For a cluster target: the namespace to look at.
    public var namespace: String?

    public init(target: String, symptom: String? = nil, alertName: String? = nil, namespace: String? = nil) {
        self.target = target
        self.symptom = symptom
        self.alertName = alertName
        self.namespace = namespace
    }

    var trigger: String {
        if let alertName { return "alert: \(alertName)" }
        if let symptom, !symptom.isEmpty { return "symptom: \(symptom)" }
        return "manual"
    }
}

/// The deterministic runbook orchestrator: picks runbooks for the request, runs their tools
/// concurrently (each under its own timeout), turns results into findings with the runbooks'
/// rules, and writes the incident bundle. It never runs a write tool: those become recommendations.
public struct Orchestrator: Sendable {
    public struct Options: Sendable {
        public var toolTimeout: Duration
        public var bundleDirectory: String
        public var bundleRetention: Duration

        public init(toolTimeout: Duration, bundleDirectory: String, bundleRetention: Duration) {
            self.toolTimeout = toolTimeout
            self.bundleDirectory = bundleDirectory
            self.bundleRetention = bundleRetention
        }
    }

    let runbooks: [Runbook]
    let agents: [any Agent]
    let inventory: Infrastructure
    let options: Options
    let store: (any Store)?
    let logger: Logger
    /// When set, a model investigates after the runbooks (LLM mode).
    let investigator: Investigator?
    /// Which tools the model may be offered for a target (policy: only what could be proposed).
    let offerable: @Sendable (ToolDescriptor, String) -> Bool

    public init(runbooks: [Runbook], agents: [any Agent], inventory: Infrastructure, options: Options, store: (any Store)?,
                investigator: Investigator? = nil, offerable: @escaping @Sendable (ToolDescriptor, String) -> Bool = { _, _ in true }, logger: Logger) {
        self.offerable = offerable
        self.runbooks = runbooks
        self.agents = agents
        self.inventory = inventory
        self.options = options
        self.store = store
        self.investigator = investigator
        self.logger = logger
    }

    /// `llm (anthropic)` or `runbook`, for start-up logs and `help`.
    public var modeDescription: String { investigator.map { "llm (\($0.providerName))" } ?? "runbook" }

    /// Every inventory target by name and type.
    var targets: [String: Runbook.TargetType] {
        var targets: [String: Runbook.TargetType] = [:]
        for cluster in inventory.k8sClusters { targets[cluster.id] = .kubernetes }
        for server in inventory.dbServers { targets[server.id] = .database }
        return targets
    }

    /// Runbooks for a request: those naming its alert, else those whose symptom words it uses,
    /// else the fallback runbooks for the target's type.
    func select(_ request: DiagnosisRequest, type: Runbook.TargetType) -> [Runbook] {
        let candidates = runbooks.filter { $0.targetType == type }
        if let alert = request.alertName {
            let byAlert = candidates.filter { $0.match.alerts.contains(alert) }
            if !byAlert.isEmpty { return byAlert }
        }
        if let symptom = request.symptom, !symptom.isEmpty {
            let bySymptom = candidates.filter { $0.matches(symptom: symptom) }
            if !bySymptom.isEmpty { return bySymptom }
        }
        return candidates.filter(\.match.fallback)
    }

    public func diagnose(_ request: DiagnosisRequest) async -> Diagnosis {
        let started = Date()
        let clock = ContinuousClock.now
        var problems: [String] = []
        var selected: [Runbook] = []
        var results: [ToolResult] = []
        if let type = targets[request.target] {
            selected = select(request, type: type)
            if selected.isEmpty { problems.append("no runbook matches \(request.trigger) for a \(type.rawValue) target") }
            if type == .kubernetes, request.namespace == nil {
                problems.append("\(request.target) is a cluster: name the namespace to look at")
                selected = []
            }
            results = await run(steps(of: selected, request: request))
        } else {
            let known = targets.keys.sorted().joined(separator: ", ")
            problems.append("\(request.target) is not in the inventory" + (known.isEmpty ? " (the inventory is empty)" : "; known targets: \(known)"))
        }
        var findings: [Finding] = []
        var seen: Set<String> = []
        for runbook in selected {
            for rule in runbook.rules {
                guard let output = results.first(where: { $0.call.tool == rule.tool })?.output else { continue }
                // Runbooks that match together may share a rule; report each finding once.
                findings += rule.evaluate(output, target: request.target).filter { seen.insert("\($0.rule)|\($0.summary)").inserted }
            }
        }
        findings.sort { $0.severity > $1.severity }
        var diagnosis = Diagnosis(
            incidentID: IncidentBundle.newID(at: started), target: request.target, trigger: request.trigger,
            runbooks: selected.map(\.name), summary: "", findings: findings,
            tools: results.map { result in
                ToolRun(tool: result.call.tool, arguments: result.call.arguments, action: result.action,
                        milliseconds: Int(result.duration.nanoseconds / 1_000_000), error: result.error)
            },
            startedAt: started, milliseconds: 0, bundlePath: nil, problems: problems)
        diagnosis.summary = Self.summarize(diagnosis)
        if let investigator, targets[request.target] != nil {
            let investigation = await investigator.investigate(
                target: request.target, briefing: Self.briefing(diagnosis, results: results),
                agents: agents.filter { $0.applies(to: request.target) },
                tools: agents.filter { $0.applies(to: request.target) }.flatMap(\.tools).filter { offerable($0, request.target) })
            results += investigation.toolResults
            diagnosis.tools += investigation.toolResults.map { result in
                ToolRun(tool: result.call.tool, arguments: result.call.arguments, action: result.action,
                        milliseconds: Int(result.duration.nanoseconds / 1_000_000), error: result.error)
            }
            diagnosis.proposedActions = investigation.proposedActions.map { RecommendedAction(call: $0, reason: "proposed by the model") }
            diagnosis.analysis = investigation.analysis
            diagnosis.llm = LLMReport(provider: investigator.providerName, steps: investigation.steps, inputTokens: investigation.usage.inputTokens,
                                      outputTokens: investigation.usage.outputTokens, stoppedBecause: investigation.stoppedBecause)
            if let firstLine = investigation.analysis?.split(separator: "\n").first, !firstLine.isEmpty {
                diagnosis.summary = "\(request.target): \(firstLine)"
            }
        }
        diagnosis.milliseconds = Int((ContinuousClock.now - clock).nanoseconds / 1_000_000)
        await writeBundle(&diagnosis, results: results)
        return diagnosis
    }

    /// What the model is told before it investigates: the trigger, the runbook findings and the
    /// tool outputs so far (each cut short), so it starts from the evidence rather than from zero.
    static func briefing(_ diagnosis: Diagnosis, results: [ToolResult]) -> String {
        var lines = ["Target: \(diagnosis.target)", "Trigger: \(diagnosis.trigger)", "Runbooks run: \(diagnosis.runbooks.joined(separator: ", "))", ""]
        lines.append(diagnosis.findings.isEmpty ? "The runbooks found nothing." : "The runbooks found:")
        lines += diagnosis.findings.map { "- [\($0.severity.rawValue)] \($0.summary)" }
        lines += ["", "Tool outputs so far:"]
        for result in results {
            let body = result.error.map { "failed: \($0)" } ?? String((result.output ?? .null).jsonText.prefix(4000))
            lines.append("- \(result.call.tool) \(JSONValue.object(result.call.arguments).jsonText): \(body)")
        }
        return lines.joined(separator: "\n")
    }

    /// The runbooks' tool calls, each once, leaving out agents with nothing to see on the target.
    private func steps(of runbooks: [Runbook], request: DiagnosisRequest) -> [(ToolCall, Duration)] {
        var seen: Set<ToolCall> = []
        var steps: [(ToolCall, Duration)] = []
        for runbook in runbooks {
            for step in runbook.tools {
                let agent = agents.first { $0.tools.contains { $0.name == step.tool } }
                if let agent, !agent.applies(to: request.target) { continue }
                var arguments = step.args
                if let namespace = request.namespace, arguments["namespace"] == nil,
                   agent?.tools.first(where: { $0.name == step.tool })?.parameters.contains(where: { $0.name == "namespace" }) == true {
                    arguments["namespace"] = .string(namespace)
                }
                let call = ToolCall(tool: step.tool, target: request.target, arguments: arguments)
                if seen.insert(call).inserted { steps.append((call, step.timeout ?? options.toolTimeout)) }
            }
        }
        return steps
    }

    /// Runs every call at once; a call that fails or outlives its timeout becomes a result with an error.
    func run(_ steps: [(ToolCall, Duration)]) async -> [ToolResult] {
        await withTaskGroup(of: (Int, ToolResult).self) { group in
            for (index, (call, timeout)) in steps.enumerated() {
                group.addTask { (index, await runOne(call, timeout: timeout)) }
            }
            var results: [(Int, ToolResult)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    private func runOne(_ call: ToolCall, timeout: Duration) async -> ToolResult {
        let started = ContinuousClock.now
        guard let agent = agents.first(where: { $0.tools.contains { $0.name == call.tool } }),
              let descriptor = agent.tools.first(where: { $0.name == call.tool }) else {
            return ToolResult(call: call, action: .read, output: nil, error: "no agent offers the tool \(call.tool)", duration: .zero)
        }
        // Diagnosis only reads; a runbook that lists a write tool gets it as an error, not an action.
        guard descriptor.action == .read else {
            return ToolResult(call: call, action: descriptor.action, output: nil,
                              error: "\(call.tool) is a \(descriptor.action.rawValue) tool; diagnoses run read tools only", duration: .zero)
        }
        let outcome: Result<JSONValue, any Error>
        do {
            outcome = .success(try await withTimeout(timeout) { try await agent.run(call) })
        } catch {
            outcome = .failure(error)
        }
        let duration = ContinuousClock.now - started
        switch outcome {
        case .success(let output):
            return ToolResult(call: call, action: descriptor.action, output: output, error: nil, duration: duration)
        case .failure(let error):
            logger.warning("tool failed", metadata: ["tool": "\(call.tool)", "target": "\(call.target)", "error": "\(error)"])
            return ToolResult(call: call, action: descriptor.action, output: nil, error: "\(error)", duration: duration)
        }
    }

    static func summarize(_ diagnosis: Diagnosis) -> String {
        if let first = diagnosis.problems.first, diagnosis.tools.isEmpty {
            return "\(diagnosis.target): cannot diagnose: \(first)"
        }
        let failed = diagnosis.tools.filter { $0.error != nil }.count
        let failedNote = failed == 0 ? "" : " (\(failed) of \(diagnosis.tools.count) tools failed)"
        guard let worst = diagnosis.findings.first else {
            return failed == diagnosis.tools.count && failed > 0
                ? "\(diagnosis.target): no tool could run\(failedNote)"
                : "\(diagnosis.target): no problems found by \(diagnosis.tools.count) tools\(failedNote)"
        }
        let counts = Severity.allCases.reversed().compactMap { severity -> String? in
            let count = diagnosis.findings.filter { $0.severity == severity }.count
            return count == 0 ? nil : "\(count) \(severity.rawValue)"
        }.joined(separator: ", ")
        return "\(diagnosis.target): \(counts) — \(worst.summary)\(failedNote)"
    }

    // MARK: Bundle

    private func writeBundle(_ diagnosis: inout Diagnosis, results: [ToolResult]) async {
        var files: [(String, Data)] = []
        var toolEntries: [JSONValue] = []
        for (index, result) in results.enumerated() {
            let name = String(format: "tools/%02d-%@.json", index + 1, result.call.tool)
            var body: [String: JSONValue] = [
                "tool": .string(result.call.tool), "target": .string(result.call.target), "arguments": .object(result.call.arguments),
                "action": .string(result.action.rawValue), "milliseconds": .number(Double(result.duration.nanoseconds / 1_000_000)),
            ]
            body["output"] = result.output ?? .null
            body["error"] = result.error.map(JSONValue.string) ?? .null
            files.append((name, Data(JSONValue.object(body).prettyJSONText.utf8)))
            toolEntries.append(.object(["tool": .string(result.call.tool), "file": .string(name),
                                        "error": result.error.map(JSONValue.string) ?? .null]))
        }
        let manifest: JSONValue = .object([
            "id": .string(diagnosis.incidentID),
            "created": .string(diagnosis.startedAt.formatted(.iso8601)),
            "trigger": .string(diagnosis.trigger),
            "targets": .array([.string(diagnosis.target)]),
            "runbooks": .array(diagnosis.runbooks.map(JSONValue.string)),
            "tools": .array(toolEntries),
            "errors": .array((diagnosis.problems + results.compactMap { result in result.error.map { "\(result.call.tool): \($0)" } }).map(JSONValue.string)),
            "findings": .number(Double(diagnosis.findings.count)),
        ])
        files.insert(("manifest.json", Data(manifest.prettyJSONText.utf8)), at: 0)
        files.append(("diagnosis.md", Data(diagnosis.markdown.utf8)))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        if let json = try? encoder.encode(diagnosis) { files.append(("diagnosis.json", json)) }

        let bundle = IncidentBundle(id: diagnosis.incidentID, created: diagnosis.startedAt, files: files)
        do {
            let (path, bytes) = try bundle.write(into: options.bundleDirectory)
            diagnosis.bundlePath = path
            let record = IncidentRecord(
                id: diagnosis.incidentID, createdAt: diagnosis.startedAt, target: diagnosis.target, trigger: diagnosis.trigger,
                summary: diagnosis.summary, severity: diagnosis.worstSeverity?.rawValue ?? (diagnosis.isHealthy ? "healthy" : "unknown"),
                findingCount: diagnosis.findings.count, bundlePath: path, bundleBytes: bytes)
            if let store {
                try await store.apply(ChangeSet(incidents: [record]))
                await prune(store)
            }
        } catch {
            diagnosis.problems.append("the incident bundle could not be saved: \(error)")
            logger.error("cannot save incident bundle", metadata: ["incident": "\(diagnosis.incidentID)", "error": "\(error)"])
        }
    }

    /// Deletes bundles past their retention, index entries first so none points at a missing file.
    private func prune(_ store: any Store) async {
        do {
            let cutoff = Date().addingTimeInterval(-options.bundleRetention.seconds)
            for old in try await store.incidents.removeOlder(than: cutoff) {
                try? FileManager.default.removeItem(atPath: old.bundlePath)
            }
        } catch {
            logger.warning("cannot prune old incident bundles", metadata: ["error": "\(error)"])
        }
    }
}
