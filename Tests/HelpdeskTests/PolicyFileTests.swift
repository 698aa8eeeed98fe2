import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskServer
import HelpdeskShippedContent
import HelpdeskTestSupport
import Logging
import Prometheus
import Testing

/// What a policy file must hold to load (aiHelpDesk's versions, at least one rule), and
/// `policies.file`: one file as all the policies in force.
@Suite struct PolicyFileTests {
    static func text(version: String?, rules: String = "    rules: [{action: read, effect: allow}]\n") -> String {
        (version.map { "version: \($0)\n" } ?? "") + "policies:\n  - name: reads\n" + rules
    }

    /// Quoted and plain spellings; `""` and `version:` with nothing, or no version at all, read as "1".
    @Test(arguments: ["\"1\"", "\"1.0\"", "\"1.2\"", "\"\"", "1", "1.0", "", nil] as [String?])
    func versionsAiHelpDeskWritesAreAccepted(version: String?) throws {
        let policies = try PolicyLoader.parse(yaml: Self.text(version: version), file: "p.yaml")
        #expect(policies.map(\.name) == ["reads"])
    }

    @Test(arguments: ["\"2\"", "\"v1\"", "\"1.x\"", "\"10\"", "2.0"])
    func otherVersionsAreRefusedAtTheirLine(version: String) {
        let text = "# a comment first\n" + Self.text(version: version)
        let errors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: text, file: "p.yaml") }
        #expect(errors?.errors.count == 1, "a version not understood stops the file before its policies are read")
        let error = errors?.errors.first
        #expect(error?.line == 2)
        #expect(error?.description.hasPrefix("p.yaml:2: version: version \"") == true, "\(String(describing: error))")
        #expect(error?.message.hasSuffix("is not understood; this project reads aiHelpDesk schema version 1 (1, 1.0, 1.x)") == true)
    }

    /// Policy files and users files read `version` by one rule (AIHelpDeskSchema): the loader refuses
    /// exactly what it refuses, with its words.
    @Test(arguments: ["1", "1.0", "1.7", "", "2", "1.", "1.2.3", "v1", "1.0a"])
    func theVersionRuleIsTheOneUsersFilesUse(version: String) {
        let problem = AIHelpDeskSchema.versionProblem(version)
        do {
            _ = try PolicyLoader.parse(yaml: Self.text(version: "\"\(version)\""), file: "p.yaml")
            #expect(problem == nil, "\(version) loaded")
        } catch {
            #expect(error.errors.map(\.message) == ["version: \(problem ?? "(none)")"])
        }
    }

    @Test func aPolicyWithoutRulesIsRefusedAtItsLine() {
        let missing = "version: \"1\"\npolicies:\n  - name: first\n    rules: [{action: read, effect: allow}]\n  - name: empty-handed\n"
        let errors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: missing, file: "p.yaml") }
        let error = errors?.errors.first
        #expect(error?.line == 5)
        #expect(error?.message == "policies.1.rules: policy \"empty-handed\" has no rules; give it at least one (action and effect), or remove it")
        let empty = "version: \"1\"\npolicies:\n  - name: empty-list\n    description: nothing yet\n    rules: []\n"
        let emptyErrors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: empty, file: "p.yaml") }
        let emptyError = emptyErrors?.errors.first
        #expect(emptyError?.line == 5, "at its rules key")
    }

    /// Each policy that does not decode is reported at its line, not only the first; a good one between
    /// them changes nothing (the file still does not load).
    @Test func everyBadPolicyOfAFileIsReportedWithItsLine() {
        let text = """
            version: "1"
            policies:
              - name: typo
                rules:
                  - action: write
                    effect: alow
              - name: fine
                rules: [{action: read, effect: allow}]
              - name: unknown-key
                resources:
                  - type: database
                    match: {tagz: [x]}
                rules: [{action: read, effect: allow}]
              - name: no-rules
            """
        let errors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: text, file: "p.yaml") }
        let lines = errors?.errors.map(\.description) ?? []
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first?.hasPrefix("p.yaml:6: policies.0.rules.0.effect:") == true, "\(lines)")
        #expect(lines.dropFirst().first?.hasPrefix("p.yaml:12: policies.2.resources.0.match.tagz: unknown key \"tagz\"") == true, "\(lines)")
        #expect(lines.last == "p.yaml:14: policies.3.rules: policy \"no-rules\" has no rules; give it at least one (action and effect), or remove it")
    }

    /// The top-level keys are checked once: a stray one is one problem, whatever the policies hold.
    @Test func anUnknownTopLevelKeyIsOneProblem() {
        let text = "version: \"1\"\npolicy:\n  - name: x\npolicies: []\n"
        let errors = #expect(throws: PolicyLoadErrors.self) { try PolicyLoader.parse(yaml: text, file: "p.yaml") }
        #expect(errors?.errors.map(\.description) == [
            "p.yaml:2: policy: unknown key \"policy\"; expected one of: policies, version"])
    }

    /// Kept on purpose: here a policy without `resources` covers every resource (documented in
    /// policies/example.yaml, and used that way), where aiHelpDesk refuses it.
    @Test func aPolicyWithoutResourcesStillCoversEveryResource() throws {
        let policies = try PolicyLoader.parse(yaml: Self.text(version: "\"1\""), file: "p.yaml")
        #expect(policies.first?.resources.isEmpty == true)
        let engine = PolicyEngine(policies: policies)
        let resources = [Resource(type: .database, name: "orders-db", tags: ["production"], sensitivity: ["pii"]),
                         Resource(type: .kubernetes, name: "apps-k8s", tags: ["staging"], namespace: "shop")]
        for resource in resources {
            let read = engine.decide(ActionRequest(principal: Principal(id: "ana"), resource: resource, tool: "any", action: .read))
            #expect(read.effect == .allow && read.policy == "reads", "\(resource.type): \(read.reason)")
            // Covering a resource is not granting more than its rules: a write falls to the default deny.
            let write = engine.decide(ActionRequest(principal: Principal(id: "ana"), resource: resource, tool: "any", action: .write))
            #expect(write.effect == .deny && write.policy == nil, "\(resource.type): \(write.reason)")
        }
    }

    @Test func theBuiltInPoliciesStillLoad() throws {
        #expect(try PolicyLoader.load(from: ContentLibrary.builtIn()).count >= 2)
    }

    // MARK: policies.file

    @Test func policiesFileIsAllThePoliciesInForce() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("governance.policy", Self.text(version: "\"1.0\""))
        let configuration = try HelpdeskConfiguration(yaml: "policies:\n  file: \(path)\n", file: "test.yaml")
        #expect(configuration.policies.file == path && configuration.policies.directory == nil)
        let content = ContentLibrary(configuration)
        let files = try content.files(.policies)
        #expect(files.map(\.location) == [path], "one file, whatever its name ends with; no built-in policy beside it")
        #expect(files.first?.source == .file(path))
        #expect(content.origin(.policies)?.key == "policies.file")
        let policies = try PolicyLoader.load(from: content)
        #expect(policies.map(\.name) == ["reads"] && policies.first?.file == path)
    }

    @Test func policiesFileComesFromTheEnvironmentToo() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("policies.yaml", Self.text(version: nil))
        let configuration = try HelpdeskConfiguration(yaml: "policies: {}\n", file: "test.yaml",
                                                      environment: ["HELPDESK_POLICIES_FILE": path])
        #expect(configuration.policies.file == path)
    }

    @Test func policiesFileAndDirTogetherOrAMissingFileAreErrors() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("policies.yaml", Self.text(version: "\"1\""))
        func issues(_ yaml: String) -> [ConfigIssue] {
            do {
                _ = try HelpdeskConfiguration(yaml: yaml, file: "test.yaml")
                return []
            } catch {
                return error.issues
            }
        }
        let both = issues("policies:\n  dir: \(folder.path)\n  file: \(path)\n")
        #expect(both.map(\.description) == ["test.yaml:3: policies.file: policies.file and policies.dir both name the policies in force; keep one of them"])
        let missing = issues("policies:\n  file: \(folder.file("nope.yaml"))\n")
        #expect(missing.count == 1 && missing.first?.keyPath == "policies.file" && missing.first?.message.hasPrefix("no such file") == true)
        let aFolder = issues("policies:\n  file: \(folder.path)\n")
        #expect(aFolder.first?.message.contains("is a folder; name a folder of policy files with policies.dir") == true)
        // Gone after the configuration was read (a ConfigMap being replaced): the read says which key names it.
        #expect(throws: ContentError.missingFile(.policies, path: folder.file("gone.yaml"))) {
            try ContentLibrary.builtIn(namedFiles: [.policies: folder.file("gone.yaml")]).files(.policies)
        }
    }

    @Test func theReloaderSeesAnEditedPoliciesFile() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = try folder.write("policies.yaml", Self.text(version: "\"1\""))
        let content = ContentLibrary.builtIn(namedFiles: [.policies: path])
        let policies = PolicySet(PolicyEngine(policies: try PolicyLoader.load(from: content)))
        let reloader = PolicyReloader(content: content, policies: policies, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                                      metrics: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()))
        await reloader.recordFilesInForce()
        #expect(await reloader.reload(reason: "files changed", ifChanged: true) == .unchanged)
        try folder.write("policies.yaml", "version: \"1.0\"\npolicies:\n  - name: writes\n    rules: [{action: write, effect: allow}]\n")
        #expect(await reloader.reload(reason: "files changed", ifChanged: true) == .installed(policies: 1))
        #expect(policies.engine.policies.map(\.name) == ["writes"])
        try folder.write("policies.yaml", "version: \"2\"\npolicies: []\n")
        #expect(await reloader.reload(reason: "files changed", ifChanged: true) == .failed)
        #expect(policies.engine.policies.map(\.name) == ["writes"], "a file that does not load keeps the previous policies")
    }
}
