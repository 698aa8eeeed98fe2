import HelpdeskCore
import Metrics

/// Counts the Slack Web API calls that did not succeed in `helpdesk_slack_api_errors_total{method,code}`.
/// Both labels stay bounded: the methods the bot calls (else `other`), and Slack's snake_case error code,
/// `ratelimited` (a 429), `transient` (5xx or the network) or `other`.
enum SlackAPIMetrics {
    /// The Web API methods the bot calls, and `files.upload` for sending a bundle's bytes to its upload URL.
    static let methods: Set<String> = [
        "chat.postMessage", "chat.update", "chat.postEphemeral",
        "files.getUploadURLExternal", "files.upload", "files.completeUploadExternal",
    ]

    /// The `code` label of a result; `nil` for a success.
    static func code(of result: SlackAPIResult) -> String? {
        switch result {
        case .ok: nil
        case .rateLimited: "ratelimited"
        case .transient: "transient"
        case .failed(let code): MetricCatalog.slackErrorCode(code)
        }
    }

    /// Counts `result` when it is a failure, and returns it.
    static func counted(_ result: SlackAPIResult, method: String) -> SlackAPIResult {
        if let code = code(of: result) {
            let metric = MetricCatalog.slackAPIErrors
            Counter(label: metric.name, dimensions: metric.dimensions(MetricCatalog.bounded(method, among: methods), code)).increment()
        }
        return result
    }
}
