import ArgumentParser
import Foundation
import HelpdeskConfig
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

    @Argument(help: "The target's name in the inventory (infrastructure.db_servers or k8s_clusters).")
    var target: String

    @Option(help: "What is wrong, in words; picks the runbooks (e.g. \"queries are stuck\").")
    var symptom: String?

    @Option(help: "For a Kubernetes cluster target: the namespace to look at.")
    var namespace: String?

    @Flag(help: "Print the diagnosis as JSON.")
    var json = false

    @Option(name: .customLong("as"), help: "Who asks (a user under users:); policy decides every tool call as them. Default: the login name.")
    var principal: String?

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let (logger, redactor) = global.bootstrapLogging(configuration, defaultLevel: .warning)
        let diagnosis = try await withComposition(configuration, logger: logger, redactor: redactor) { app in
            await app.engine.orchestrator.diagnose(DiagnosisRequest(
                target: target, symptom: symptom, namespace: namespace,
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
}
