import Foundation
import HelpdeskConfig
import HelpdeskAgents
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskSlack
import HelpdeskStore
import Hummingbird
import HTTPTypes
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// `POST /slack/commands` and `POST /slack/interactions`: verify Slack's signature over the raw body, record the command and
/// its job in one transaction, and answer within Slack's 3 seconds; the real answer follows on
/// the command's `response_url`.
struct SlackRoutes {
    let signingSecret: Secret?
    var context: SlackCommandContext? { sharedContext?.value }
    /// The context held by reference: it is a large struct of references, and each copy into a
    /// request's async frames retained and released every one of them.
    private let sharedContext: SharedContext?
    let store: any Store
    let metrics: any MetricsFactory
    /// During a rotation, the secret Slack signed with before, accepted until its `until`.
    let previousSigningSecret: SlackSettings.PreviousSigningSecret?
    /// Masks secrets in what goes into the audit log: people paste tokens and `password=…` into commands.
    let redactor: Redactor
    /// Whether the end of the rotation window has been logged (once per process is enough).
    let rotationEndLogged = NIOLockedValueBox(false)
    /// The secrets' HMAC keys, set up once (see ``SlackSignature/Key``).
    private let signingKeys: (current: SlackSignature.Key?, previous: SlackSignature.Key?)
    /// Every series ``count(_:endpoint:)`` and the command counter use, made once: a registry lookup
    /// per request (labels built, locked, hashed) was about 1 % of an acknowledged command's CPU.
    private let requestCounters: [String: [String: Counter]]
    private let commandCounters: [String: Counter]

    init(signingSecret: Secret?, context: SlackCommandContext?, store: any Store, metrics: any MetricsFactory,
         previousSigningSecret: SlackSettings.PreviousSigningSecret? = nil, redactor: Redactor = Redactor()) {
        self.signingSecret = signingSecret
        sharedContext = context.map(SharedContext.init)
        self.store = store
        self.metrics = metrics
        self.previousSigningSecret = previousSigningSecret
        self.redactor = redactor
        signingKeys = (signingSecret.map(SlackSignature.Key.init), previousSigningSecret.map { SlackSignature.Key($0.secret) })
        let requests = MetricCatalog.slackRequests
        requestCounters = Dictionary(uniqueKeysWithValues: Self.endpoints.map { endpoint in
            (endpoint, Dictionary(uniqueKeysWithValues: Self.outcomes.map { outcome in
                (outcome, Counter(label: requests.name, dimensions: requests.dimensions(endpoint, outcome), factory: metrics))
            }))
        })
        let commands = MetricCatalog.slackCommands
        commandCounters = Dictionary(uniqueKeysWithValues: CommandRequest.metricNames.map { name in
            (name, Counter(label: commands.name, dimensions: commands.dimensions(name), factory: metrics))
        })
    }

    func register(on router: Router<AppRequestContext>) {
        router.post("/slack/commands") { request, context in try await command(request, context) }
        router.post("/slack/interactions") { request, context in try await interaction(request, context) }
    }

    /// Verifies the signature over the raw body; returns its form fields, or throws 401/503 (400 for a malformed form).
    private func verified(_ request: Request, _ requestContext: AppRequestContext, endpoint: String) async throws -> ([String: String], SharedContext) {
        guard let signingSecret, let sharedContext else {
            count("not_configured", endpoint: endpoint)
            throw APIError(status: .serviceUnavailable, code: "slack_not_configured",
                           message: "Slack is not configured here: set SLACK_SIGNING_SECRET and keep the templates folder in place")
        }
        var request = request
        let bytes = Array(try await request.collectBody(upTo: requestContext.maxUploadSize).readableBytesView)
        let now = Date()
        let secrets = SlackSignature.acceptedSecrets(current: signingSecret, previous: previousSigningSecret, now: now)
        if let previousSigningSecret, secrets.count == 1 { logRotationEnd(previousSigningSecret.until, logger: requestContext.logger) }
        let keys = [signingKeys.current, secrets.count > 1 ? signingKeys.previous : nil].compactMap { $0 }
        let (timestamp, signature) = Self.signatureHeaders(request.headers)
        if let failure = SlackSignature.verify(body: bytes, timestamp: timestamp, signature: signature, keys: keys, now: now) {
            count("rejected_\(failure.rawValue)", endpoint: endpoint)
            requestContext.logger.notice("Slack request refused", metadata: ["reason": "\(failure.rawValue)", "endpoint": "\(endpoint)"])
            throw APIError(status: .unauthorized, code: "unauthorized", message: "request signature is not valid")
        }
        do {
            return (try decodeForm(bytes), sharedContext)
        } catch {
            count("malformed", endpoint: endpoint)
            throw APIError(status: .badRequest, code: "bad_request", message: "the form body is malformed: \(error)")
        }
    }

    /// Slack's timestamp and signature headers, found in one pass over the request's fields (a lookup
    /// by name joins every value into a new string, twice a request). A header sent twice counts as
    /// missing: Slack sends each once.
    static func signatureHeaders(_ headers: HTTPFields) -> (timestamp: String?, signature: String?) {
        var timestamp: String?, signature: String?
        var timestamps = 0, signatures = 0
        for field in headers {
            if field.name == slackTimestamp {
                timestamp = field.value
                timestamps += 1
            } else if field.name == slackSignature {
                signature = field.value
                signatures += 1
            }
        }
        return (timestamps == 1 ? timestamp : nil, signatures == 1 ? signature : nil)
    }

    /// Button clicks (`block_actions`). Other interaction types (shortcuts, view submissions,
    /// message actions) are acknowledged and ignored: the bot opens no modals.
    private func interaction(_ request: Request, _ requestContext: AppRequestContext) async throws -> Response {
        let (fields, context) = try await verified(request, requestContext, endpoint: "interactions")
        guard let payloadText = fields["payload"], let payload = try? JSONValue(parsing: payloadText) else {
            count("malformed", endpoint: "interactions")
            throw APIError(status: .badRequest, code: "bad_request", message: "an interaction needs a payload form field holding JSON")
        }
        guard let action = BlockAction(payload: payload) else {
            count("ignored", endpoint: "interactions")
            return Response(status: .ok)
        }
        let principal = context.value.principal(slackUserID: action.userID, teamID: action.teamID)
        let audit = AuditDraft(kind: "request_received", principal: principal.description, target: action.value, data: .object([
            "via": .string("slack-button"), "action": .string(action.kind.rawValue), "request_id": .string(requestContext.requestID),
        ]))
        let outcome: ChangeSetOutcome
        do {
            outcome = try await store.apply(ChangeSet(jobs: [SlackInteractionJob.job(action)], audit: [audit]))
        } catch let error as StoreError where error.isUnavailable {
            // Slack shows nothing of a click's response body: a 503 makes it mark the click as failed,
            // so the person knows to click again (ErrorResponseMiddleware answers it).
            count("store_unavailable", endpoint: "interactions")
            throw error
        }
        count(outcome.jobIDs.first.map { $0 == nil } ?? false ? "duplicate" : "accepted", endpoint: "interactions")
        return Response(status: .ok)
    }

    private func logRotationEnd(_ until: Date, logger: Logger) {
        guard rotationEndLogged.withLockedValue({ logged in defer { logged = true }; return !logged }) else { return }
        logger.notice("""
            the previous Slack signing secret is refused since slack.previous_signing_secret_until; \
            remove it and previous_signing_secret_until from the configuration
            """, metadata: ["until": "\(until.formatted(.iso8601))"])
    }

    /// Every `outcome` of ``count(_:endpoint:)``, for the series made at start (signature failures are `rejected_<reason>`).
    static let outcomes = ["accepted", "duplicate", "answered_inline", "ignored", "ssl_check", "malformed", "store_unavailable",
                           "not_configured"] + SlackSignature.Failure.allCases.map { "rejected_\($0.rawValue)" }
    static let endpoints = ["commands", "interactions"]

    private func count(_ outcome: String, endpoint: String = "commands") {
        if let counter = requestCounters[endpoint]?[outcome] { return counter.increment() }
        let requests = MetricCatalog.slackRequests
        Counter(label: requests.name, dimensions: requests.dimensions(endpoint, outcome), factory: metrics).increment()
    }

    private func command(_ request: Request, _ requestContext: AppRequestContext) async throws -> Response {
        let (fields, context) = try await verified(request, requestContext, endpoint: "commands")
        if fields["ssl_check"] == "1" {
            count("ssl_check")
            return Response(status: .ok)
        }
        guard let command = SlashCommand(fields: fields) else {
            count("malformed")
            throw APIError(status: .badRequest, code: "bad_request", message: "not a slash command: user_id, command and response_url are required")
        }
        let parsed = CommandRequest(text: command.text)
        if let counter = commandCounters[parsed.metricName] {
            counter.increment()
        } else {
            let commands = MetricCatalog.slackCommands
            Counter(label: commands.name, dimensions: commands.dimensions(parsed.metricName), factory: metrics).increment()
        }
        let principal = context.value.principal(slackUserID: command.userID, teamID: command.teamID)
        // Redacted: the audit log keeps it forever, in the hash chain, where it cannot be edited out.
        let audit = AuditDraft(kind: "request_received", principal: principal.description, target: nil, data: .object([
            "via": .string("slack"), "command": .string(command.command), "text": .string(redactor.redact(command.text)),
            "channel": .string(command.channelID), "request_id": .string(requestContext.requestID),
        ]))
        let outcome: ChangeSetOutcome
        do {
            if case .help = parsed {
                // Help needs no work: answer it inline.
                try await store.apply(ChangeSet(audit: [audit]))
                count("answered_inline")
                return slackJSON(context.helpAnswer)
            }
            outcome = try await store.apply(ChangeSet(jobs: [SlackCommandJob.job(command)], audit: [audit]))
        } catch let error as StoreError where error.isUnavailable {
            // Slack never retries a command: say so now rather than fail silently or let it time out.
            count("store_unavailable")
            requestContext.logger.warning("command not recorded: the store is unavailable", metadata: ["error": "\(error)"])
            return slackJSON(.object(["response_type": .string("ephemeral"), "text": .string(Self.cannotRecord)]))
        }
        let duplicate = outcome.jobIDs.first.map { $0 == nil } ?? false
        count(duplicate ? "duplicate" : "accepted")
        // The command's text is echoed as typed: escaped, so `<!channel>` in it is not a mention.
        let working: Mrkdwn = "Working on it: `\(command.command, limit: 50) \(command.text, limit: 200)`"
        return slackJSON(.object([
            "response_type": .string("ephemeral"),
            "text": .string(duplicate ? "Already working on that." : working.text),
        ]))
    }

    static let cannotRecord = "helpdesk cannot record your request right now (its database is unavailable), so nothing was done. "
        + "Please try again in a minute."

    private func slackJSON(_ value: JSONValue) -> Response {
        slackJSON(text: value.jsonText)
    }

    private func slackJSON(text: String) -> Response {
        slackJSON(ByteBuffer(string: text))
    }

    private func slackJSON(_ body: ByteBuffer) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
    }
}

private final class SharedContext: Sendable {
    let value: SlackCommandContext
    /// The help answer's bytes, made once: every inline answer shares them instead of copying the text.
    let helpAnswer: ByteBuffer

    init(_ value: SlackCommandContext) {
        self.value = value
        helpAnswer = ByteBuffer(string: value.helpMessageText)
    }
}

let slackTimestamp = HTTPField.Name("X-Slack-Request-Timestamp")!
let slackSignature = HTTPField.Name("X-Slack-Signature")!
