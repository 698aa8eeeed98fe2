import Crypto
import Foundation
import HelpdeskAlerts
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskSlack

/// The webhook parsers: Slack forms, interactions and signatures, Alertmanager JSON, approval tokens.
/// The keys and the clock are fixed so the seed corpus (signed with them) reaches the code past the check.
enum WebhookTargets {
    static let now = Date(timeIntervalSince1970: 1_767_225_600)
    static let slackSecret = Secret("fuzz-signing-secret")
    static let linkKey = Secret("fuzz-approval-link-key")

    /// A form body (approval page, slash command, email webhook), then the slash-command grammar.
    static func form(_ bytes: [UInt8]) {
        let fields = try? decodeForm(bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        _ = parseForm(text)
        if let fields, let command = SlashCommand(fields: fields) {
            _ = CommandRequest(text: command.text)
        }
        if let command = SlashCommand(formBody: text) {
            _ = CommandRequest(text: command.text)
        }
        _ = CommandRequest(text: text)
    }

    /// What `/slack/interactions` does: form → `payload` → JSON → a button click → its job.
    static func slackInteraction(_ bytes: [UInt8]) {
        guard let fields = try? decodeForm(bytes), let payloadText = fields["payload"],
              let payload = try? JSONValue(parsing: payloadText) else { return }
        _ = payload.jsonText
        if let action = BlockAction(payload: payload) {
            _ = SlackInteractionJob.job(action)
        }
    }

    /// Layout: mode byte, timestamp line, signature line, body. An odd mode signs the body itself, so
    /// the check is also held to accepting what is genuine.
    static func slackSignature(_ bytes: [UInt8]) {
        var input = FuzzInput(bytes)
        let selfSigned = input.mode() & 1 == 1
        let timestamp = input.line()
        var signature = input.line()
        let body = input.rest
        if selfSigned, let timestamp {
            signature = SlackSignature.sign(body: body, timestamp: timestamp, secret: slackSecret)
        }
        let failure = SlackSignature.verify(body: body, timestamp: timestamp, signature: signature, secret: slackSecret, now: now)
        if selfSigned, let timestamp, let seconds = Int64(timestamp), abs(Double(seconds) - now.timeIntervalSince1970) < 200, failure != nil {
            fatalError("a genuine Slack signature was refused: \(failure.map(\.rawValue) ?? "")")
        }
    }

    /// Also differential: what the hand-written reader accepts must read as `JSONDecoder` reads it,
    /// when that accepts it too (the reader refuses more: repeated keys, deeper nesting).
    static func alertmanager(_ bytes: [UInt8]) {
        let reference = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        if let read = try? JSONReader.parse(bytes), let reference, read != reference {
            fatalError("JSONReader read \(read) where JSONDecoder read \(reference)")
        }
        guard let payload = try? AlertmanagerPayload.parse(Data(bytes)) else { return }
        _ = payload.receiverName
        if let decoded = try? JSONDecoder().decode(AlertmanagerPayload.self, from: Data(bytes)), decoded.version == "4", decoded != payload {
            fatalError("the payload read by hand differs from the Decodable one")
        }
    }

    /// Layout: mode byte, approval id line, then a token line and a CSRF line (even mode), or the
    /// token's payload bytes, which the target signs with the link key (odd mode) so the claim
    /// parsing behind the HMAC is reached too.
    static func approvalToken(_ bytes: [UInt8]) {
        var input = FuzzInput(bytes)
        let signPayload = input.mode() & 1 == 1
        let approvalID = input.line() ?? ""
        let links = ApprovalLinks(key: linkKey)
        let token: String
        if signPayload {
            let payload = Data(input.rest)
            let code = HMAC<SHA256>.authenticationCode(for: payload, using: SymmetricKey(data: Array(linkKey.reveal().utf8)))
            token = base64URL(payload) + "." + base64URL(Data(code))
        } else {
            token = input.line() ?? ""
            _ = links.verifyCSRF(input.line() ?? "", token: token)
        }
        if let claims = try? links.verify(token, approvalID: approvalID, now: now) {
            guard claims.approvalID == approvalID, claims.expires > now else {
                fatalError("a token for another approval or an expired one was accepted")
            }
        }
    }

    private static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
