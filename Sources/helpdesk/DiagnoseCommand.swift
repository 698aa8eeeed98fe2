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

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let (logger, _) = global.bootstrapLogging(configuration, defaultLevel: .warning)
        let diagnosis = try await withStore(configuration) { store in
            let engine: DiagnosisEngine
            do {
                let agents = DiagnosisEngine.makeAgents(configuration, environment: ProcessInfo.processInfo.environment, logger: logger)
                engine = try DiagnosisEngine(configuration: configuration, agents: agents, store: store, logger: logger)
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            return await engine.orchestrator.diagnose(DiagnosisRequest(target: target, symptom: symptom, namespace: namespace))
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
