import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskOrchestrator
import HelpdeskStore
import Hummingbird
import HTTPTypes
import Logging
import NIOCore

/// Requests may declare why they act (`remediation`, `emergency`, …) for purpose-based policies.
let purposeHeader = HTTPField.Name("X-Purpose")!

/// `X-Purpose`, trimmed; an empty one declares nothing (it must not dodge `blocked_purposes` as "").
func declaredPurpose(_ request: Request) -> String? {
    guard let value = request.headers[purposeHeader]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
    return value
}
let idempotencyHeader = HTTPField.Name("Idempotency-Key")!
let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!

/// The REST API under `/api/v1`: agents and tools, direct read-tool calls, diagnoses, incidents.
struct APIRoutes {
    let engine: DiagnosisEngine
    let governance: Governance
    let store: any Store
    /// Bearer keys: tokens and service accounts.
    let authentication: APITokenMiddleware

    struct ToolRequest: Decodable {
        var target: String
        var arguments: [String: JSONValue]?
        /// The incident whose diagnosis recommended the call, and its finding: shown to approvers.
        var incident: String?
        var finding: String?

        var origin: ApprovalOrigin? { incident.map { ApprovalOrigin(incidentID: $0, finding: finding) } }
    }

    struct QueryRequest: Decodable {
        var target: String
        var symptom: String?
        var namespace: String?
    }

    /// `POST /api/v1/diagnose`: what `helpdesk srebot --server` sends. Strict, so a misspelt
    /// `symptm` is a 400 rather than a diagnosis that silently ignored it.
    struct DiagnoseRequest: Decodable {
        var target: String
        var symptom: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case target, symptom
        }

        init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            target = try container.decode(String.self, forKey: .target)
            symptom = try container.decodeIfPresent(String.self, forKey: .symptom)
        }
    }

    /// Seconds a caller is told to wait when every API diagnosis place is taken: about one
    /// diagnosis's worth of runbook tools.
    static let busyRetryAfter = 5

    func register(on router: Router<AppRequestContext>) {
        let api = router.group("/api/v1").add(middleware: authentication).add(middleware: AuditRequestMiddleware(store: store))
        api.get("/agents") { _, _ in
            jsonResponse(status: .ok, ["agents": engine.agents.map { AgentListing(name: $0.name, tools: $0.tools) }])
        }
        api.post("/db/:tool") { request, context in try await callTool(request, context, agent: "database") }
        api.post("/k8s/:tool") { request, context in try await callTool(request, context, agent: "kubernetes") }
        api.post("/query") { request, context in
            let query = try await decode(QueryRequest.self, request, context)
            try checkTarget(query.target)
            let diagnosis = try await diagnose(target: query.target, symptom: query.symptom, namespace: query.namespace, context)
            return jsonResponse(status: .ok, diagnosis)
        }
        // What `helpdesk srebot --server` asks: like /query, but an unknown target is a 404.
        api.post("/diagnose") { request, context in
            let body = try await decode(DiagnoseRequest.self, request, context)
            try checkTarget(body.target)
            if let problem = engine.orchestrator.unknownTargetProblem(body.target) {
                throw APIError(status: .notFound, code: "unknown_target", message: problem)
            }
            let diagnosis = try await diagnose(target: body.target, symptom: body.symptom, namespace: nil, context)
            return jsonResponse(status: .ok, diagnosis)
        }
        api.get("/incidents") { request, _ in
            let limit = request.uri.queryParameters.get("limit", as: Int.self).map { min(max($0, 1), 1000) } ?? 100
            return jsonResponse(status: .ok, ["incidents": try await store.incidents.list(limit: limit)])
        }
        api.get("/alerts") { request, _ in
            let parameters = request.uri.queryParameters
            // An annotation may be near the body limit: a page of 1,000 keeps one response bounded.
            let limit = parameters.get("limit", as: Int.self).map { min(max($0, 1), 1000) } ?? 100
            var since: Date?
            if let text = parameters.get("since") {
                guard let window = Duration(parsing: String(text)), window > .zero else {
                    throw APIError(status: .badRequest, code: "bad_request", message: "since: expected a duration such as 30m or 2h")
                }
                since = Date().addingTimeInterval(-window.seconds)
            }
            let firing = parameters.get("firing").map { $0 == "true" || $0 == "1" } ?? false
            return jsonResponse(status: .ok, ["alerts": try await store.alerts.list(AlertQuery(firingOnly: firing, since: since, limit: limit))])
        }
        api.get("/incidents/:id") { _, context in
            jsonResponse(status: .ok, try await incident(context))
        }
        api.get("/incidents/:id/bundle") { _, context in
            let record = try await incident(context)
            guard let data = try await record.readBundle(from: store) else {
                throw APIError(status: .gone, code: "bundle_missing", message: "the bundle of \(record.id) is no longer kept")
            }
            return Response(status: .ok, headers: [
                .contentType: "application/gzip",
                .contentDisposition: "attachment; filename=\"\(record.id).tar.gz\"",
                .contentLength: String(data.count),
            ], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    private struct AgentListing: Encodable {
        var name: String
        var tools: [ToolDescriptor]
    }

    private struct PendingResponse: Encodable {
        var status: String
        var approval: ApprovalRecord
        var reason: String
    }

    private struct ToolResponse: Encodable {
        var tool: String
        var target: String
        var action: ActionClass
        var milliseconds: Int
        var output: JSONValue
    }

    private func incident(_ context: AppRequestContext) async throws -> IncidentRecord {
        let id = context.parameters.get("id") ?? ""
        guard let record = try await store.incidents.incident(id: id) else {
            throw APIError(status: .notFound, code: "not_found", message: "no incident \(id)")
        }
        return record
    }

    /// Runs the orchestrator's diagnosis — every tool through the gate — as the token's principal,
    /// within `api.max_concurrent_diagnoses`: when every place is taken the caller gets 503 and
    /// Retry-After at once instead of a request that waits behind the others.
    private func diagnose(target: String, symptom: String?, namespace: String?,
                          _ context: AppRequestContext) async throws -> Diagnosis {
        let request = DiagnosisRequest(target: target, symptom: symptom, namespace: namespace,
                                       principal: governance.principal(named: context.principal ?? "anonymous"), via: "api")
        let orchestrator = engine.orchestrator
        guard let diagnosis = await engine.apiDiagnoses.withPermitIfAvailable({ await orchestrator.diagnose(request) }) else {
            context.logger.notice("API diagnosis refused: every place is taken (api.max_concurrent_diagnoses)",
                                  metadata: ["target": "\(target)"])
            throw APIError(status: .serviceUnavailable, code: "busy",
                           message: "the server is running as many API diagnoses as api.max_concurrent_diagnoses allows; "
                               + "try again shortly",
                           headers: [.retryAfter: String(Self.busyRetryAfter)])
        }
        context.logger.info("diagnosis via API", metadata: ["target": "\(target)", "incident": "\(diagnosis.incidentID)"])
        return diagnosis
    }

    private func decode<Body: Decodable>(_ type: Body.Type, _ request: Request, _ context: AppRequestContext) async throws -> Body {
        do {
            return try await request.decode(as: type, context: context)
        } catch let error as HTTPError {
            throw APIError(status: .badRequest, code: "bad_request", message: error.body ?? "the body is not the JSON this endpoint takes")
        }
    }

    /// Inventory names never hold control characters, and the audit log's target column is cut at
    /// NUL, which would break the hash chain: such a target is refused before it reaches the gate.
    private func checkTarget(_ target: String) throws {
        guard target.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return }
        throw APIError(status: .badRequest, code: "bad_request", message: "the target must not contain control characters")
    }

    /// Passes one tool call through the gate as the token's principal: 200 with the output when
    /// policy allows it, 202 with the approval request when it needs approval, 403 when denied.
    private func callTool(_ request: Request, _ context: AppRequestContext, agent agentName: String) async throws -> Response {
        let name = context.parameters.get("tool") ?? ""
        guard let descriptor = engine.tool(name, agent: agentName) else {
            let known = engine.agents.first { $0.name == agentName }?.tools.map(\.name).joined(separator: ", ") ?? ""
            throw APIError(status: .notFound, code: "unknown_tool", message: "the \(agentName) agent has no tool \(name); it has: \(known)")
        }
        let body = try await decode(ToolRequest.self, request, context)
        try checkTarget(body.target)
        let call = ToolCall(tool: name, target: body.target, arguments: body.arguments ?? [:])
        if let problem = descriptor.validate(call.arguments) {
            throw APIError(status: .unprocessableContent, code: "invalid_arguments", message: problem)
        }
        let principal = governance.principal(named: context.principal ?? "anonymous")
        let started = ContinuousClock.now
        let key = try idempotencyKey(request).map { "api:\(principal.description):\($0)" }
        let outcome: GateOutcome
        do {
            outcome = try await governance.request(call, by: principal, purpose: declaredPurpose(request), origin: body.origin, via: "api",
                                                   executionKey: key)
        } catch is ExecutionKeyReused {
            throw APIError(status: .unprocessableContent, code: "idempotency_key_reused",
                           message: "this Idempotency-Key was first used with a different tool, target or arguments; a new request needs a new key")
        }
        switch outcome {
        case .ran(let output, _):
            return jsonResponse(status: .ok, ToolResponse(tool: name, target: call.target, action: descriptor.action,
                                                          milliseconds: Int((ContinuousClock.now - started).nanoseconds / 1_000_000), output: output))
        case .failed(let error, _):
            throw APIError(status: .badGateway, code: "tool_failed", message: error)
        case .denied(let decision):
            throw APIError(status: .forbidden, code: "denied", message: decision.message.map { "\($0) (\(decision.reason))" } ?? decision.reason)
        case .pendingApproval(let record, let decision):
            return jsonResponse(status: .accepted, PendingResponse(status: "pending_approval", approval: record, reason: decision.reason))
        case .repeated(let earlier):
            guard earlier.state == .succeeded, let output = earlier.result else {
                throw APIError(status: .conflict, code: "already_attempted",
                               message: "a request with this Idempotency-Key was already made (\(earlier.state.rawValue)); it is not run again")
            }
            return jsonResponse(status: .ok, extraHeaders: [idempotentReplayed: "true"],
                                ToolResponse(tool: name, target: call.target, action: descriptor.action, milliseconds: 0, output: output))
        }
    }

    /// `Idempotency-Key`: a retried write with the same key is answered from the first attempt, not run again.
    private func idempotencyKey(_ request: Request) throws -> String? {
        guard let key = request.headers[idempotencyHeader] else { return nil }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw APIError(status: .badRequest, code: "bad_request", message: "Idempotency-Key must be 1 to 255 visible ASCII characters")
        }
        return key
    }
}
