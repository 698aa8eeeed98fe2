import Foundation
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskSlack
import HelpdeskStore
import Hummingbird
import HTTPTypes
import Logging
import Metrics
import NIOCore

/// `POST /slack/commands`: verify Slack's signature over the raw body, record the command and
/// its job in one transaction, and answer within Slack's 3 seconds; the real answer follows on
/// the command's `response_url`.
struct SlackRoutes {
    let signingSecret: Secret?
    let context: SlackCommandContext?
    let store: any Store
    let metrics: any MetricsFactory

    func register(on router: Router<AppRequestContext>) {
        router.post("/slack/commands") { request, context in try await command(request, context) }
    }

    private func count(_ outcome: String) {
        Counter(label: "helpdesk_slack_requests_total", dimensions: [("endpoint", "commands"), ("outcome", outcome)], factory: metrics).increment()
    }

    private func command(_ request: Request, _ requestContext: AppRequestContext) async throws -> Response {
        guard let signingSecret, let context else {
            count("not_configured")
            throw APIError(status: .serviceUnavailable, code: "slack_not_configured",
                           message: "Slack is not configured here: set SLACK_SIGNING_SECRET and keep the templates folder in place")
        }
        var request = request
        let body = try await request.collectBody(upTo: requestContext.maxUploadSize)
        let bytes = Array(body.readableBytesView)
        if let failure = SlackSignature.verify(body: bytes, timestamp: request.headers[slackTimestamp], signature: request.headers[slackSignature],
                                              secret: signingSecret, now: Date()) {
            count("rejected_\(failure.rawValue)")
            requestContext.logger.notice("Slack request refused", metadata: ["reason": "\(failure.rawValue)"])
            throw APIError(status: .unauthorized, code: "unauthorized", message: "request signature is not valid")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if parseForm(text)["ssl_check"] == "1" {
            count("ssl_check")
            return Response(status: .ok)
        }
        guard let command = SlashCommand(formBody: text) else {
            count("malformed")
            throw APIError(status: .badRequest, code: "bad_request", message: "not a slash command: user_id, command and response_url are required")
        }
        let parsed = CommandRequest(text: command.text)
        let principal = context.principal(slackUserID: command.userID)
        let audit = AuditDraft(kind: "request_received", principal: principal.description, target: nil, data: .object([
            "via": .string("slack"), "command": .string(command.command), "text": .string(command.text),
            "channel": .string(command.channelID), "request_id": .string(requestContext.requestID),
        ]))
        if case .help = parsed {
            // Help needs no work: answer it inline.
            try await store.apply(ChangeSet(audit: [audit]))
            count("answered_inline")
            return slackJSON(context.helpMessage())
        }
        let outcome = try await store.apply(ChangeSet(jobs: [SlackCommandJob.job(command)], audit: [audit]))
        let duplicate = outcome.jobIDs.first.map { $0 == nil } ?? false
        count(duplicate ? "duplicate" : "accepted")
        return slackJSON(.object([
            "response_type": .string("ephemeral"),
            "text": .string(duplicate ? "Already working on that." : "Working on it: `\(command.command) \(truncated(command.text, 200))`"),
        ]))
    }

    private func slackJSON(_ value: JSONValue) -> Response {
        let data = Data(value.jsonText.utf8)
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

let slackTimestamp = HTTPField.Name("X-Slack-Request-Timestamp")!
let slackSignature = HTTPField.Name("X-Slack-Signature")!
