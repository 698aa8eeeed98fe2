import Foundation
import HelpdeskCore
import HelpdeskHTTPClient
import HelpdeskOrchestrator

/// `helpdesk srebot --server`: the diagnosis asked of a running server (`POST /api/v1/diagnose`),
/// so a Kubernetes Job holds only an API token — no store, no inventory, no target credentials.
struct SrebotServerClient {
    /// What `--server` said, for messages (it holds no credentials: ``endpoint(for:)`` refuses them).
    let server: String
    let endpoint: URL
    let token: Secret
    let timeout: Duration
    let transport: any HTTPTransport

    /// Why no diagnosis came back, naming the server and the status; never the token.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The error body every route answers with.
    private struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var code: String
            var message: String
        }

        var error: Detail
        var requestID: String?

        enum CodingKeys: String, CodingKey {
            case error, requestID = "request_id"
        }
    }

    /// `SERVER/api/v1/diagnose` for an absolute http(s) URL without credentials, query or fragment
    /// (a password in the URL would show in `ps` and in every message naming the server).
    static func endpoint(for server: String) -> URL? {
        guard var components = URLComponents(string: server), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", components.host?.isEmpty == false,
              components.user == nil, components.password == nil, components.query == nil, components.fragment == nil else {
            return nil
        }
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        components.path = path + "/api/v1/diagnose"
        return components.url
    }

    /// Asks the server to diagnose `target`; throws ``Failure`` for anything but a diagnosis.
    func diagnose(target: String, symptom: String?) async throws -> Diagnosis {
        var request: [String: JSONValue] = ["target": .string(target)]
        if let symptom { request["symptom"] = .string(symptom) }
        let reply: (status: Int, headers: [String: String], body: Data)
        do {
            let headers = [("authorization", "Bearer \(token.reveal())"), ("accept", "application/json")]
            let body = Data(JSONValue.object(request).jsonText.utf8)
            reply = try await transport.postJSON(endpoint, headers: headers, body: body, timeout: timeout)
        } catch {
            let reason = (error as? HTTPTransportError)?.reason ?? "\(error)"
            throw Failure(description: "cannot reach the helpdesk server at \(server) (--timeout \(timeout.compactText)): "
                              + clean(reason))
        }
        guard reply.status == 200 else { throw failure(reply, target: target) }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(Diagnosis.self, from: reply.body)
        } catch {
            let detail = (error as? DecodingError).map(describeDecodingError) ?? "\(error)"
            throw Failure(description: "the helpdesk server at \(server) answered 200 with something that is not a diagnosis "
                              + "(\(clean(detail))); is it running the same helpdesk version?")
        }
    }

    /// A refusal in words: which server, which status, and the server's own reason.
    private func failure(_ reply: (status: Int, headers: [String: String], body: Data), target: String) -> Failure {
        let body = try? JSONDecoder().decode(ErrorBody.self, from: reply.body)
        let said: String
        if let body {
            let request = body.requestID.map { ", request \(clean($0))" } ?? ""
            said = ": \(clean(body.error.message)) (\(clean(body.error.code))\(request))"
        } else if reply.body.isEmpty {
            said = ""
        } else {
            said = ": " + clean(String(decoding: reply.body.prefix(200), as: UTF8.self))
        }
        let status = "HTTP \(reply.status)\(said)"
        let description = switch (reply.status, body?.error.code) {
        case (401, _), (403, _):
            "the helpdesk server at \(server) refused the API token (\(status)); "
                + "check --token-file and the server's api.tokens"
        case (404, "unknown_target"?):
            "the helpdesk server at \(server) cannot diagnose \(target) (\(status))"
        case (404, _):
            "the helpdesk server at \(server) has no /api/v1/diagnose (\(status)); is it older than this command?"
        case (503, "busy"?):
            "the helpdesk server at \(server) is busy (\(status)); try again in "
                + "\(Int(RetryAfter.parse(reply.headers["retry-after"])?.seconds ?? 5)) s"
        default:
            "the helpdesk server at \(server) answered \(status)"
        }
        return Failure(description: description)
    }

    /// One line of printable text, without the token should anything echo it back.
    private func clean(_ text: String) -> String {
        let line = String(text.map { $0.isNewline ? " " : $0 }
            .filter { !$0.unicodeScalars.contains { $0.properties.generalCategory == .control } })
        let secret = token.reveal()
        return secret.isEmpty ? line : line.replacingOccurrences(of: secret, with: Redactor.mask)
    }
}
