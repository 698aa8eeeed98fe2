import Foundation
import HelpdeskAgents
import HelpdeskContent
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskServer
import HelpdeskShippedContent
import HelpdeskTestSupport
import Logging
import Prometheus
import Synchronization
import Testing

/// What loads but likely does not mean what it says is a warning with file:line — returned by the
/// loader, printed by `policy check` and `config check`, logged by `serve` at start and on each reload —
/// and never stops a load.
@Suite struct PolicyWarningTests {
    static let zeros = """
        version: "1"
        policies:
          - name: zeros
            rules:
              - action: [write, destructive]
                effect: allow
                conditions:
                  max_rows_affected: 0
                  max_pods_affected: 0
                  max_xact_age_secs: 0
              - action: read
                effect: require_approval
                conditions: {approval_quorum: 0}
        """

    static let ops = Principal(id: "ops", roles: ["sre"])
    static let orders = Resource(type: .database, name: "orders-db", tags: ["production"])

    /// The lines a logger wrote, for the test to read.
    final class LogLines: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    static func capturingLogger() -> (Logger, LogLines) {
        let lines = LogLines()
        let logger = Logger(label: "test") { label in
            HelpdeskLogHandler(label: label, format: .human, level: .info, redactor: Redactor()) { line in lines.append(line) }
        }
        return (logger, lines)
    }

    // MARK: Limits of 0, as aiHelpDesk reads them

    @Test func zeroLimitsMeanNoLimitAndZeroQuorumMeansOneEachWithAWarningAtItsLine() throws {
        let loaded = try PolicyLoader.parse(yaml: Self.zeros, file: "p.yaml", knownTools: nil)
        func noLimit(_ line: Int, _ key: String) -> String {
            "p.yaml:\(line): policies.0.rules.0.conditions.\(key): 0 means no limit, as in aiHelpDesk; leave the key out to say so"
        }
        #expect(loaded.warnings.map(\.description) == [
            noLimit(8, "max_rows_affected"), noLimit(9, "max_pods_affected"), noLimit(10, "max_xact_age_secs"),
            "p.yaml:13: policies.0.rules.1.conditions.approval_quorum: 0 means 1 approval, as in aiHelpDesk; write 1 or leave the key out to say so",
        ])
        let conditions = try #require(loaded.policies.first?.rules.first?.conditions)
        #expect(conditions.maxRowsAffected == nil && conditions.maxPodsAffected == nil && conditions.maxTransactionAgeSeconds == nil)

        let engine = PolicyEngine(policies: loaded.policies)
        // Before: a limit of 0 denied every write. Now nothing is limited, measured or not.
        for (rows, pods, age) in [(1_000_000, 50, 86_400), (nil, nil, nil)] as [(Int?, Int?, Int?)] {
            let call = ActionRequest(principal: Self.ops, resource: Self.orders, tool: "terminate_backend", action: .destructive,
                                     rowsAffected: rows, podsAffected: pods, transactionAgeSeconds: age)
            let decision = engine.decide(call)
            #expect(decision.effect == .allow, "\(decision.reason)")
        }
        let read = engine.decide(ActionRequest(principal: Self.ops, resource: Self.orders, tool: "server_info", action: .read))
        #expect(read.effect == .requireApproval && read.quorum == 1, "\(read.reason)")
    }

    @Test(arguments: ["max_rows_affected", "max_pods_affected", "max_xact_age_secs"])
    func aNegativeLimitIsRefusedAtItsLine(key: String) {
        let text = "version: \"1\"\npolicies:\n  - name: x\n    rules:\n      - action: write\n        effect: allow\n"
            + "        conditions: {\(key): -5}\n"
        let errors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: text, file: "p.yaml") }
        #expect(errors?.errors.map(\.description) == [
            "p.yaml:7: policies.0.rules.0.conditions.\(key): \(key) must be 1 or more, got -5; leave the key out for no limit"])
    }

    @Test func aNegativeQuorumIsRefused() {
        let text = "version: \"1\"\npolicies:\n  - name: x\n    rules: [{action: write, effect: require_approval, conditions: {approval_quorum: -1}}]\n"
        let errors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: text, file: "p.yaml") }
        #expect(errors?.errors.first?.message == "policies.0.rules.0.conditions.approval_quorum: approval_quorum must be 1 or more, got -1")
    }

    /// Decoding a policy file directly (as the engine's tests do) reads 0 the same way, without warnings to report.
    @Test func aDirectDecodeReadsZeroTheSameWay() throws {
        let policies = try PolicyLoader.parse(yaml: Self.zeros, file: "p.yaml")
        #expect(policies.first?.rules.first?.conditions.maxRowsAffected == nil)
        #expect(policies.first?.rules.last?.conditions.approvalQuorum == 1)
    }

    // MARK: Where warnings are shown

    @Test func theBuiltInPoliciesLoadWithoutWarnings() throws {
        #expect(try PolicyLoader.load(from: ContentLibrary.builtIn(), knownTools: BuiltInTools.names).warnings.isEmpty)
        #expect(ContentCheck(ContentLibrary.builtIn()).warnings.isEmpty)
    }

    @Test func configCheckShowsThemAndStillPasses() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("policies.yaml", Self.zeros)
        let check = ContentCheck(ContentLibrary.builtIn(namedFiles: [.policies: path]))
        #expect(check.problems.isEmpty)
        #expect(check.warnings.count == 4)
        #expect(check.warnings.first?.description == "\(path):8: policies.0.rules.0.conditions.max_rows_affected: "
            + "0 means no limit, as in aiHelpDesk; leave the key out to say so")
    }

    @Test func serveLogsThemAtStart() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("policies.yaml", Self.zeros)
        let (logger, lines) = Self.capturingLogger()
        let policies = try HelpdeskServer.loadPolicies(ContentLibrary.builtIn(namedFiles: [.policies: path]), logger: logger)
        #expect(policies.engine.policies.map(\.name) == ["zeros"])
        let logged = lines.all.filter { $0.contains("policy file: \(path):") }
        #expect(logged.count == 4, "\(lines.all)")
    }

    @Test func theReloaderLogsThemOnEachReload() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("policies.yaml", Self.zeros)
        let (logger, lines) = Self.capturingLogger()
        let reloader = PolicyReloader(content: ContentLibrary.builtIn(namedFiles: [.policies: path]), policies: PolicySet(PolicyEngine(policies: [])),
                                      knownTools: BuiltInTools.names, logger: logger,
                                      metrics: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()))
        #expect(await reloader.reload(reason: "SIGHUP") == .installed(policies: 1))
        #expect(await reloader.reload(reason: "SIGHUP") == .installed(policies: 1))
        let logged = lines.all.filter { $0.contains("policy file: \(path):8: policies.0.rules.0.conditions.max_rows_affected") }
        #expect(logged.count == 2, "once per reload: \(lines.all)")
    }
}
