import Foundation
import Tracing
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskIncidents
import HelpdeskLLM
import HelpdeskStore
import Logging
import Metrics

/// What to diagnose and why.
public struct DiagnosisRequest: Sendable {
    public var target: String
    /// What someone said is wrong; for an alert, its `summary` annotation.
    public var symptom: String?
    /// The `alertname` of the alert that asked, when an alert did.
    public var alertName: String?
    /// For a cluster target: the namespace to look at.
    public var namespace: String?
    /// The labels of the alert that asked (empty otherwise): outside data, shown to the model in its
    /// briefing (each cut short) and never put into a command or a query.
    public var alertLabels: [String: String]
    /// Whom the diagnosis runs for: every tool call is decided by policy as them (the person who
    /// asked, or the alert bot's service principal for an alert).
    public var principal: Principal
    /// How the request arrived (`slack`, `api`, `cli`, `alert`, `cli+alert`), for the audit log.
    public var via: String

    public init(target: String, symptom: String? = nil, alertName: String? = nil, namespace: String? = nil,
                alertLabels: [String: String] = [:], principal: Principal, via: String) {
        self.target = target
        self.symptom = symptom
        self.alertName = alertName
        self.namespace = namespace
        self.alertLabels = alertLabels
        self.principal = principal
        self.via = via
    }

    var trigger: String {
        if let alertName { return "alert: \(alertName)" }
        if let symptom, !symptom.isEmpty { return "symptom: \(symptom)" }
        return "manual"
    }
}

/// The deterministic runbook orchestrator: picks runbooks for the request, runs their tools
/// concurrently through the gate (each decided as the request's principal, under its own
/// timeout), turns results into findings with the runbooks' rules, and writes the incident
/// bundle with the calls' audit events. It never runs a write tool: those become recommendations.
public struct Orchestrator: Sendable {
    public struct Options: Sendable {
        public var toolTimeout: Duration
        public var bundleDirectory: String
        public var bundleRetention: Duration
        /// Keep bundles in the store instead of `bundleDirectory`: with several replicas, any of them serves any bundle.
        public var bundlesInStore: Bool

        public init(toolTimeout: Duration, bundleDirectory: String, bundleRetention: Duration, bundlesInStore: Bool = false) {
            self.bundlesInStore = bundlesInStore
            self.toolTimeout = toolTimeout
            self.bundleDirectory = bundleDirectory
            self.bundleRetention = bundleRetention
        }
    }

    let runbooks: [Runbook]
    /// The only way to the agents.
    let gate: any ToolGate
    let inventory: Infrastructure
    let options: Options
    let store: (any Store)?
    let logger: Logger
    /// When set, a model investigates after the runbooks (LLM mode).
    let investigator: Investigator?

    public init(runbooks: [Runbook], gate: any ToolGate, inventory: Infrastructure, options: Options, store: (any Store)?,
                investigator: Investigator? = nil, logger: Logger) {
        self.runbooks = runbooks
        self.gate = gate
        self.inventory = inventory
        self.options = options
        self.store = store
        self.investigator = investigator
        self.logger = logger
    }

    /// Every value of `helpdesk_diagnosis_duration_seconds`' `runbook` label: the runbooks loaded (a
    /// fixed set, from the shipped and configured folders), `none` and `model`.
    public var runbookMetricNames: [String] { runbooks.map(\.name) + ["none", "model"] }

    /// `llm (anthropic)` or `runbook`, for start-up logs and `help`.
    public var modeDescription: String { investigator.map { "llm (\($0.providerName))" } ?? "runbook" }

    /// Every inventory target by name and type.
    var targets: [String: Runbook.TargetType] {
        var targets: [String: Runbook.TargetType] = [:]
        for cluster in inventory.k8sClusters { targets[cluster.id] = .kubernetes }
        for server in inventory.dbServers { targets[server.id] = .database }
        return targets
    }

    /// Why `target` cannot be diagnosed at all — it is not in the inventory — naming the targets
    /// that are; `nil` for a known target. Callers that can refuse early (the API's 404) ask first.
    public func unknownTargetProblem(_ target: String) -> String? {
        guard targets[target] == nil else { return nil }
        let known = targets.keys.sorted().joined(separator: ", ")
        return "\(target) is not in the inventory" + (known.isEmpty ? " (the inventory is empty)" : "; known targets: \(known)")
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
        let incidentID = IncidentBundle.newID(at: started)
        // Every line logged and every span made while diagnosing names the incident.
        return await LogCorrelation.with(.incidentID, incidentID) {
            await withSpan("diagnose") { span in
                span.attributes["helpdesk.incident_id"] = incidentID
                let diagnosis = await diagnose(request, incidentID: incidentID, started: started)
                span.attributes["helpdesk.runbooks"] = diagnosis.runbooks.joined(separator: ",")
                span.attributes["helpdesk.findings"] = diagnosis.findings.count
                return diagnosis
            }
        }
    }

    private func diagnose(_ request: DiagnosisRequest, incidentID: String, started: Date) async -> Diagnosis {
        let clock = ContinuousClock.now
        var problems: [String] = []
        var selected: [Runbook] = []
        var results: [ToolResult] = []
        var audit: [AuditDraft] = []
        var calls: [[String: ToolCall]] = []
        if let type = targets[request.target] {
            selected = select(request, type: type)
            if selected.isEmpty { problems.append("no runbook matches \(request.trigger) for a \(type.rawValue) target") }
            if type == .kubernetes, request.namespace == nil {
                problems.append("\(request.target) is a cluster: name the namespace to look at")
                selected = []
            }
            let plan = steps(of: selected, request: request)
            calls = plan.calls
            let reads = await run(plan.steps, for: request)
            results = reads.map(\.result)
            audit = reads.map(\.audit)
            problems += reads.filter { $0.verdict.effect != .allow }.map { "\($0.result.call.tool): \($0.verdict.explanation)" }
        } else if let problem = unknownTargetProblem(request.target) {
            problems.append(problem)
        }
        // Each runbook's rules read its own calls' results (see RunbookOutputs); one that failed gives them nothing.
        let outputs = RunbookOutputs(results)
        let matched: [Candidate] = zip(selected, calls).flatMap { runbook, own -> [Candidate] in
            let read = outputs.outputs(for: own)
            return runbook.rules.flatMap { rule in rule.candidates(in: read) }
        }
        let capped = RuleEngine.cap(RuleEngine.select(matched))
        var candidates = capped.kept
        problems += capped.problems
        let followed = await followUps(&candidates, for: request)
        results += followed.reads.map(\.result)
        audit += followed.reads.map(\.audit)
        problems += followed.problems
        // Runbooks that match together may share a rule; report each finding once.
        var seen: Set<String> = []
        let catalog = gate.catalog(for: request.target)
        let findings = candidates.map { $0.finding(target: request.target, catalog: catalog) }.filter { seen.insert("\($0.rule)|\($0.summary)").inserted }
            .map { finding in
                // A recommended Kubernetes action runs in the namespace diagnosed, like the reads that found it.
                var finding = finding
                for index in finding.recommendedActions.indices {
                    let call = finding.recommendedActions[index].call
                    guard let namespace = request.namespace, call.arguments["namespace"] == nil,
                          catalog.first(where: { $0.name == call.tool })?.parameters.contains(where: { $0.name == "namespace" }) == true
                    else { continue }
                    finding.recommendedActions[index].call.arguments["namespace"] = .string(namespace)
                }
                return finding
            }
        var diagnosis = Diagnosis(
            incidentID: incidentID, target: request.target, trigger: request.trigger,
            runbooks: selected.map(\.name), summary: "", findings: findings,
            tools: results.map { result in
                ToolRun(tool: result.call.tool, arguments: result.call.arguments, action: result.action,
                        milliseconds: Int(result.duration.nanoseconds / 1_000_000), error: result.error)
            },
            startedAt: started, milliseconds: 0, bundlePath: nil, problems: problems)
        diagnosis.summary = Self.summarize(diagnosis)
        if let investigator, targets[request.target] != nil {
            let investigation = await investigator.investigate(
                target: request.target, briefing: Self.briefing(diagnosis, request: request, results: results), gate: gate,
                principal: request.principal, via: "\(request.via)+model",
                scope: modelScope(for: request))
            results += investigation.toolResults
            audit += investigation.audit
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
        let took = ContinuousClock.now - clock
        diagnosis.milliseconds = Int(took.nanoseconds / 1_000_000)
        let modelRan = investigator != nil && targets[request.target] != nil
        Timer(label: MetricCatalog.diagnosisDuration.name,
              dimensions: MetricCatalog.diagnosisDuration.dimensions(modelRan ? "model" : selected.first?.name ?? "none"))
            .recordNanoseconds(took.nanoseconds)
        await writeBundle(&diagnosis, results: results, audit: audit)
        return diagnosis
    }

    /// The namespace the model may look at: the request's, else for a database with a Kubernetes side
    /// its inventory namespace (without it the model could read pods and logs of any namespace).
    func modelScope(for request: DiagnosisRequest) -> [String: JSONValue] {
        if let namespace = request.namespace { return ["namespace": .string(namespace)] }
        if let database = inventory.dbServers.first(where: { $0.id == request.target }), database.k8sCluster != nil,
           let namespace = database.k8sNamespace, !namespace.isEmpty {
            return ["namespace": .string(namespace)]
        }
        return [:]
    }

    /// The runbooks' tool calls, each distinct call once, leaving out agents with nothing to see on the
    /// target; and for each runbook, its call of each tool it runs (the first, should it list one twice).
    private func steps(of runbooks: [Runbook], request: DiagnosisRequest)
        -> (steps: [(ToolCall, Duration)], calls: [[String: ToolCall]]) {
        var seen: Set<ToolCall> = []
        var steps: [(ToolCall, Duration)] = []
        var calls: [[String: ToolCall]] = []
        let catalog = gate.catalog(for: request.target)
        let known = Set(gate.catalog(for: nil).map(\.name))
        for runbook in runbooks {
            var own: [String: ToolCall] = [:]
            for step in runbook.tools {
                // A tool of an agent with nothing to see on this target is skipped; an unknown one fails in the gate.
                let descriptor = catalog.first { $0.name == step.tool }
                if descriptor == nil, known.contains(step.tool) { continue }
                var arguments = step.args
                if let namespace = request.namespace, arguments["namespace"] == nil,
                   descriptor?.parameters.contains(where: { $0.name == "namespace" }) == true {
                    arguments["namespace"] = .string(namespace)
                }
                let call = ToolCall(tool: step.tool, target: request.target, arguments: arguments)
                if own[step.tool] == nil { own[step.tool] = call }
                if seen.insert(call).inserted { steps.append((call, step.timeout ?? options.toolTimeout)) }
            }
            calls.append(own)
        }
        return (steps, calls)
    }

    /// Runs every call at once through the gate; a call that is refused, fails or outlives its
    /// timeout becomes a result with an error.
    func run(_ steps: [(ToolCall, Duration)], for request: DiagnosisRequest) async -> [GatedRead] {
        await withTaskGroup(of: (Int, GatedRead).self) { group in
            for (index, (call, timeout)) in steps.enumerated() {
                group.addTask { (index, await gate.read(call, for: request.principal, timeout: timeout, via: request.via)) }
            }
            var results: [(Int, GatedRead)] = []
            for await result in group {
                if let error = result.1.result.error, result.1.verdict.effect == .allow {
                    logger.warning("tool failed", metadata: ["tool": "\(result.1.result.call.tool)", "target": "\(result.1.result.call.target)",
                                                             "error": "\(error)"])
                }
                results.append(result)
            }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    static func summarize(_ diagnosis: Diagnosis) -> String {
        if let first = diagnosis.problems.first, diagnosis.tools.isEmpty {
            return "\(diagnosis.target): cannot diagnose: \(first)"
        }
        let failed = diagnosis.tools.filter { $0.error != nil }.count
        let failedNote = failed == 0 ? "" : " (\(failed) of \(diagnosis.tools.count) tools failed)"
        guard let worst = diagnosis.findings.first else {
            // Say why: a refusal by policy, or what stopped the first tool.
            let why = diagnosis.problems.first.map { " — \($0)" } ?? ""
            return failed == diagnosis.tools.count && failed > 0
                ? "\(diagnosis.target): no tool could run\(failedNote)\(why)"
                : "\(diagnosis.target): no problems found by \(diagnosis.tools.count) tools\(failedNote)"
        }
        let counts = Severity.allCases.reversed().compactMap { severity -> String? in
            let count = diagnosis.findings.filter { $0.severity == severity }.count
            return count == 0 ? nil : "\(count) \(severity.rawValue)"
        }.joined(separator: ", ")
        return "\(diagnosis.target): \(counts) — \(worst.summary)\(failedNote)"
    }

    // MARK: Bundle

    private func writeBundle(_ diagnosis: inout Diagnosis, results: [ToolResult], audit: [AuditDraft]) async {
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
            let path: String, bytes: Int, content: Data?
            if options.bundlesInStore, store != nil {
                content = try bundle.archive()
                (path, bytes) = (IncidentRecord.storedBundlePrefix + diagnosis.incidentID, content?.count ?? 0)
            } else {
                // Compressed and fsynced (swift-foundation's Data.write syncs): off the cooperative pool.
                let directory = options.bundleDirectory
                (path, bytes) = try await withBlockingIO { try bundle.write(into: directory) }
                content = nil
            }
            diagnosis.bundlePath = path
            let record = IncidentRecord(
                id: diagnosis.incidentID, createdAt: diagnosis.startedAt, target: diagnosis.target, trigger: diagnosis.trigger,
                summary: diagnosis.summary, severity: diagnosis.worstSeverity?.rawValue ?? (diagnosis.isHealthy ? "healthy" : "unknown"),
                findingCount: diagnosis.findings.count, bundlePath: path, bundleBytes: bytes, bundleContent: content)
            // The calls' audit events commit with the incident they produced: one transaction per diagnosis.
            if let store {
                try await store.apply(ChangeSet(incidents: [record], audit: audit))
                await prune(store)
            }
        } catch {
            if let store, !audit.isEmpty {
                do {
                    try await store.apply(ChangeSet(audit: audit))
                } catch {
                    logger.error("cannot write the audit events of a diagnosis", metadata: ["incident": "\(diagnosis.incidentID)", "error": "\(error)"])
                }
            }
            diagnosis.problems.append("the incident bundle could not be saved: \(error)")
            logger.error("cannot save incident bundle", metadata: ["incident": "\(diagnosis.incidentID)", "error": "\(error)"])
        }
    }

    /// Deletes bundles past their retention, index entries first so none points at a missing file.
    private func prune(_ store: any Store) async {
        do {
            let cutoff = Date().addingTimeInterval(-options.bundleRetention.seconds)
            let files = try await store.incidents.removeOlder(than: cutoff).filter { !$0.bundleIsInStore }.map(\.bundlePath)
            if !files.isEmpty {
                try await withBlockingIO { for file in files { try? FileManager.default.removeItem(atPath: file) } }
            }
        } catch {
            logger.warning("cannot prune old incident bundles", metadata: ["error": "\(error)"])
        }
    }
}
