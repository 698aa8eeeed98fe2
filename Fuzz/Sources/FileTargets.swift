import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskOrchestrator

/// The YAML files an operator writes: policies, runbooks and the configuration, through the same
/// text entry points their path-taking loaders use.
enum FileTargets {
    static func policy(_ bytes: [UInt8]) {
        guard let policies = try? PolicyLoader.parse(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml") else { return }
        _ = PolicyEngine(policies: policies)
    }

    static func runbook(_ bytes: [UInt8]) {
        guard let runbook = try? RunbookLoader.parse(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml") else { return }
        _ = runbook.matches(symptom: "connections are stuck")
    }

    /// The secrets the example names, given here and never read from the fuzzer's own environment.
    static let environment = [
        "SLACK_SIGNING_SECRET": "s3cret-signing", "HELPDESK_API_OPS_AUTOMATION_TOKEN": "token-1234",
        "HELPDESK_ALERTMANAGER_HELPDESK_BEARER_TOKEN": "am-token-1234",
    ]

    static func configuration(_ bytes: [UInt8]) {
        _ = try? HelpdeskConfiguration(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml", environment: environment)
    }
}
