import Foundation
import HelpdeskCore
import HelpdeskHTTPClient
import HelpdeskJobs
import HelpdeskStore
import Logging

/// What one Web API call came to.
public enum SlackAPIResult: Sendable, Equatable {
    case ok(ts: String?)
    /// HTTP 429 (or `ok:false, error:ratelimited`): wait this long.
    case rateLimited(retryAfter: Duration)
    /// 5xx or the network: worth another try.
    case transient(String)
    /// `ok:false` with Slack's error code: trying again will not help.
    case failed(code: String)
}

/// The Slack Web API methods the bot uses, over `slack.api_base_url` with the bot token.
public struct SlackWebAPI: Sendable {
    let baseURL: URL
    let token: Secret
    let transport: any HTTPTransport

    public init(baseURL: URL, token: Secret, transport: any HTTPTransport = AsyncHTTPTransport()) {
        self.baseURL = baseURL
        self.token = token
        self.transport = transport
    }

    /// Calls `method`; a failure is counted in `helpdesk_slack_api_errors_total`.
    public func call(_ method: String, _ arguments: JSONValue) async -> SlackAPIResult {
        SlackAPIMetrics.counted(await send(method, arguments), method: method)
    }

    private func send(_ method: String, _ arguments: JSONValue) async -> SlackAPIResult {
        let url = baseURL.appendingPathComponent(method)
        let reply: (status: Int, headers: [String: String], body: Data)
        do {
            reply = try await transport.postJSON(url, headers: [("authorization", "Bearer \(token.reveal())")],
                                                 body: Data(arguments.jsonText.utf8), timeout: .seconds(15))
        } catch {
            return .transient("\(error)")
        }
        if reply.status == 429 {
            return .rateLimited(retryAfter: RetryAfter.parse(reply.headers["retry-after"]) ?? .seconds(1))
        }
        if reply.status >= 500 { return .transient("HTTP \(reply.status)") }
        guard let body = try? JSONDecoder().decode(JSONValue.self, from: reply.body) else {
            return reply.status >= 400 ? .failed(code: "http_\(reply.status)") : .transient("the reply is not JSON")
        }
        if body["ok"] == .bool(true) { return .ok(ts: body["ts"]?.description) }
        let code = body["error"]?.description ?? "unknown_error"
        return code == "ratelimited" ? .rateLimited(retryAfter: .seconds(1)) : .failed(code: code)
    }
}

extension SlackWebAPI {
    /// Uploads a file into a channel (and thread) the way Slack asks now: get an upload URL, send
    /// the bytes there, then complete the upload naming where to share it.
    public func upload(_ data: Data, filename: String, title: String, channel: String, threadTS: String?) async -> SlackAPIResult {
        let getURL = "files.getUploadURLExternal"
        let url = baseURL.appendingPathComponent(getURL)
        let reply: (status: Int, headers: [String: String], body: Data)
        do {
            reply = try await transport.postJSON(url, headers: [("authorization", "Bearer \(token.reveal())")],
                                                 body: Data(JSONValue.object(["filename": .string(filename), "length": .number(Double(data.count))]).jsonText.utf8),
                                                 timeout: .seconds(15))
        } catch {
            return SlackAPIMetrics.counted(.transient("\(error)"), method: getURL)
        }
        if reply.status == 429 {
            return SlackAPIMetrics.counted(.rateLimited(retryAfter: RetryAfter.parse(reply.headers["retry-after"]) ?? .seconds(1)), method: getURL)
        }
        if reply.status >= 500 { return SlackAPIMetrics.counted(.transient("HTTP \(reply.status)"), method: getURL) }
        guard let body = try? JSONDecoder().decode(JSONValue.self, from: reply.body) else {
            return SlackAPIMetrics.counted(.transient("the reply is not JSON"), method: getURL)
        }
        guard body["ok"] == .bool(true), let uploadURL = body["upload_url"].flatMap({ URL(string: $0.description) }),
              let fileID = body["file_id"]?.description else {
            return SlackAPIMetrics.counted(.failed(code: body["error"]?.description ?? "no_upload_url"), method: getURL)
        }
        do {
            let sent = try await transport.post(uploadURL, contentType: "application/octet-stream", headers: [], body: data, timeout: .seconds(60))
            guard (200..<300).contains(sent.status) else {
                return SlackAPIMetrics.counted(sent.status >= 500 ? .transient("upload HTTP \(sent.status)") : .failed(code: "upload_http_\(sent.status)"),
                                               method: "files.upload")
            }
        } catch {
            return SlackAPIMetrics.counted(.transient("\(error)"), method: "files.upload")
        }
        var complete: [String: JSONValue] = ["files": .array([.object(["id": .string(fileID), "title": .string(title)])]), "channel_id": .string(channel)]
        if let threadTS { complete["thread_ts"] = .string(threadTS) }
        return await call("files.completeUploadExternal", .object(complete))
    }
}

/// Uploads an incident bundle into its alert thread once the thread's root is posted.
public struct SlackBundleUploadJob: JobHandler {
    public static let kind = "slack.upload_bundle"
    let api: SlackWebAPI
    let store: any Store

    public init(api: SlackWebAPI, store: any Store) {
        self.api = api
        self.store = store
    }

    /// What a `slack.upload_bundle` job carries.
    struct Payload: JobPayload {
        var path: String
        var incident: String
        var thread: String
    }

    public static func job(bundlePath: String, incidentID: String, threadKey: String) -> NewJob {
        NewJob(kind: kind, payload: Payload(path: bundlePath, incident: incidentID, thread: threadKey).jobText, dedupKey: "upload:\(incidentID)", maxAttempts: 8)
    }

    public func run(_ job: LeasedJob, logger: Logger) async throws -> JobOutcome {
        let payload = try Payload.decode(job)
        let (path, incident, thread) = (payload.path, payload.incident, payload.thread)
        guard let root = try await store.slackOutbox.threadRoot(thread) else {
            throw SlackDeliveryError(status: 0, body: "the thread's root message is not posted yet")
        }
        let bundle = path.hasPrefix(IncidentRecord.storedBundlePrefix)
            ? try await store.incidents.bundle(id: incident) : FileManager.default.contents(atPath: path)
        guard let data = bundle else {
            throw JobFailure.permanent("the bundle \(path) is gone")
        }
        switch await api.upload(data, filename: "\(incident).tar.gz", title: "Incident bundle \(incident)", channel: root.channel, threadTS: root.ts) {
        case .ok: return JobOutcome(result: "uploaded \(data.count) bytes")
        case .failed(let code): throw JobFailure.permanent("Slack refused the upload: \(code)")
        case .rateLimited, .transient: throw SlackDeliveryError(status: 0, body: "upload did not go through; retrying")
        }
    }
}
