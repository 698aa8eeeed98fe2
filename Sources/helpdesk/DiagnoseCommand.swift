import ArgumentParser
import Foundation
import HelpdeskAlerts
import HelpdeskConfig
import HelpdeskCore
import HelpdeskServer
import HelpdeskOrchestrator
import HelpdeskStore
import Logging

struct DiagnoseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Diagnose an inventory target with the runbooks, print the diagnosis and write the incident bundle.",
        discussion: "Exit status: 0 healthy, 1 findings or some tools failed, 2 the target could not be diagnosed at all.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The target's name in the inventory (infrastructure.db_servers or k8s_clusters); with --alert, read from its labels.")
    var target: String?

    @Option(help: "What is wrong, in words; picks the runbooks (e.g. \"queries are stuck\").")
    var symptom: String?

    @Option(help: "For a Kubernetes cluster target: the namespace to look at.")
    var namespace: String?

    @Flag(help: "Print the diagnosis as JSON.")
    var json = false

    @Option(help: ArgumentHelp("Diagnose as this alert would start it: a JSON file holding one alert as Alertmanager's webhook sends it (labels, annotations).",
                               valueName: "file"))
    var alert: String?

    @Option(name: .customLong("as"), help: "Who asks (a user under users:); policy decides every tool call as them. Default: the login name.")
    var principal: String?

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let (logger, redactor) = global.bootstrapLogging(configuration, defaultLevel: .warning)
        let alertRequest = try alert.map { try Self.alertRequest(file: $0, configuration: configuration) }
        guard alertRequest != nil || target != nil else { throw ValidationError("name a target, or an alert with --alert FILE") }
        // An alert's diagnosis is decided and audited as the alert bot, as in the server; --as would be silently dropped.
        if alertRequest != nil, principal != nil { throw ValidationError("--as does not go with --alert: an alert is diagnosed as the alert bot") }
        if alertRequest != nil, target != nil { throw ValidationError("--alert reads the target from the alert's labels: name no TARGET") }
        if alertRequest != nil, symptom != nil || namespace != nil {
            throw ValidationError("--alert reads the symptom (its summary) and namespace from the alert: give no --symptom or --namespace")
        }
        let diagnosis = try await withComposition(configuration, logger: logger, redactor: redactor) { app in
            await app.engine.orchestrator.diagnose(alertRequest ?? DiagnosisRequest(
                target: target ?? "", symptom: symptom, namespace: namespace,
                principal: commandLinePrincipal(principal, governance: app.governance), via: "cli"))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(diagnosis), as: UTF8.self))
        } else {
            print(diagnosis.markdown, terminator: "")
            if let path = diagnosis.bundlePath { print("\nbundle: \(path)") }
        }
        if diagnosis.tools.allSatisfy({ $0.error != nil }) { throw ExitCode(2) }
        if !diagnosis.isHealthy { throw ExitCode(1) }
    }

    /// The request the alert bot would make for the alert in `file`: the same target and namespace
    /// mapping, the alert's summary as the symptom, decided as the alert bot.
    static func alertRequest(file: String, configuration: HelpdeskConfiguration) throws -> DiagnosisRequest {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw ValidationError("cannot read --alert \(file): \(describeFileError(error))")
        }
        let alert: AlertmanagerPayload.Alert
        do {
            alert = try JSONDecoder().decode(AlertmanagerPayload.Alert.self, from: data)
        } catch {
            throw ValidationError("--alert \(file) is not one Alertmanager alert (labels, annotations, status, startsAt, fingerprint): \(error)")
        }
        let targeting = AlertTargeting(inventory: configuration.infrastructure, targetLabels: configuration.alertmanager.targetLabels)
        return targeting.request(labels: alert.labels, annotations: alert.annotations, via: "cli+alert")
    }
}
