import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskServer

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read another tool's files and print the configuration that uses them.",
        subcommands: [AiHelpDesk.self])

    struct AiHelpDesk: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "aihelpdesk",
            abstract: "Read an aiHelpDesk deployment folder; print what loads and the configuration lines that use it. Changes nothing.",
            discussion: """
                Finds its policy file, infrastructure inventory and users file (by the folder's .env, else by name), \
                loads each as `serve` would and prints every problem with file:line. Exit 0 when everything loads \
                (warnings allowed), 2 when something does not.
                """)

        @Argument(help: "The aiHelpDesk deployment folder (for example deploy/docker-compose).")
        var folder: String

        @Option(help: "The policy file to use, when the folder holds several.")
        var policies: String?

        @Option(help: "The inventory to use, when the folder holds several.")
        var infrastructure: String?

        @Option(help: "The users file to use, when the folder holds several.")
        var users: String?

        func run() async throws {
            let found = try AiHelpDeskFolder(folder: folder, policies: policies, infrastructure: infrastructure, users: users)
            let report = found.check(environment: ProcessInfo.processInfo.environment)
            print(report.text)
            if !report.problems.isEmpty { throw ExitCode(2) }
        }
    }
}

/// The files of an aiHelpDesk deployment folder, and what loading them here says.
struct AiHelpDeskFolder {
    enum Kind: String, CaseIterable {
        case policies, infrastructure, users

        /// aiHelpDesk's environment variable naming this file inside its containers.
        var variable: String {
            switch self {
            case .policies: "HELPDESK_POLICY_FILE"
            case .infrastructure: "HELPDESK_INFRA_CONFIG"
            case .users: "HELPDESK_USERS_FILE"
            }
        }

        /// The variables of a docker-compose `.env` that name this file on the host: its compose file mounts
        /// `HELPDESK_POLICY_FILE_HOST` at the container path `HELPDESK_POLICY_FILE` names (not a host path).
        var hostVariables: [String] {
            switch self {
            case .policies: ["HELPDESK_POLICY_FILE_HOST"]
            case .infrastructure: ["HELPDESK_INFRA_CONFIG"]
            case .users: ["HELPDESK_USERS_FILE_HOST"]
            }
        }

        func matches(_ name: String) -> Bool {
            let lower = name.lowercased()
            switch self {
            case .policies: return lower.contains("polic") && (lower.hasSuffix(".yaml") || lower.hasSuffix(".yml"))
            case .users: return lower.contains("user") && (lower.hasSuffix(".yaml") || lower.hasSuffix(".yml"))
            case .infrastructure:
                return lower.contains("infra")
                    && [".json", ".json.example", ".yaml", ".yml"].contains { lower.hasSuffix($0) }
            }
        }
    }

    struct Report {
        var text: String
        var problems: [String]
    }

    let folder: String
    /// The file chosen for each kind.
    var chosen: [Kind: String] = [:]
    /// Files of a kind that were not chosen, to name them.
    var others: [Kind: [String]] = [:]
    var subfolders: [String] = []
    /// The folder's `.env` (or `.env.example`) settings, values of keys kept out.
    var environmentFile: String?
    var environmentSettings: [(String, String)] = []

    init(folder: String, policies: String?, infrastructure: String?, users: String?) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            printError("helpdesk: \(folder) is not a folder")
            throw ExitCode(2)
        }
        let base = URL(fileURLWithPath: folder).standardizedFileURL.path
        self.folder = base
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted()
        let path = { (name: String) in base == "/" ? "/" + name : base + "/" + name }
        var files: [String] = []
        for name in names {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path(name), isDirectory: &isFolder) else { continue }
            if isFolder.boolValue {
                let inside = (try? FileManager.default.contentsOfDirectory(atPath: path(name))) ?? []
                if inside.contains(where: { item in Kind.allCases.contains { $0.matches(item) } }) { subfolders.append(path(name)) }
            } else {
                files.append(name)
            }
        }
        if let env = [".env", ".env.example"].first(where: files.contains) {
            environmentFile = path(env)
            environmentSettings = Self.readEnvironmentFile(path(env))
        }
        let named = Dictionary(environmentSettings, uniquingKeysWith: { _, last in last })
        let given: [Kind: String?] = [.policies: policies, .infrastructure: infrastructure, .users: users]
        for kind in Kind.allCases {
            let candidates = files.filter(kind.matches).map(path)
            // A file named on the command line, else by the folder's .env, else the plain name before an example.
            var pick: String?
            if let explicit = given[kind] ?? nil {
                pick = explicit.hasPrefix("/") ? explicit : URL(fileURLWithPath: explicit).standardizedFileURL.path
            } else {
                for variable in kind.hostVariables {
                    guard let value = named[variable], !value.isEmpty else { continue }
                    let resolved = value.hasPrefix("/") ? value : URL(fileURLWithPath: base).appendingPathComponent(value).standardizedFileURL.path
                    if FileManager.default.fileExists(atPath: resolved) {
                        pick = resolved
                        break
                    }
                }
            }
            if pick == nil {
                pick = candidates.sorted { Self.preference($0) < Self.preference($1) }.first
            }
            if let pick { chosen[kind] = pick }
            others[kind] = candidates.filter { $0 != pick }
        }
    }

    /// Plain names first (`infrastructure.json`), then examples, then the rest by length and name.
    private static func preference(_ path: String) -> (Int, Int, String) {
        let name = (path as NSString).lastPathComponent.lowercased()
        let plain = ["policies.yaml", "policies.yml", "infrastructure.json", "infrastructure.yaml", "users.yaml", "users.yml"]
        let rank = plain.contains(name) ? 0 : name.contains("example") ? 1 : 2
        return (rank, name.count, name)
    }

    /// `KEY=VALUE` lines of a dotenv file; comments and blank lines skipped, quotes removed.
    static func readEnvironmentFile(_ path: String) -> [(String, String)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(whereSeparator: \.isNewline).compactMap { raw in
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("export ") { line.removeFirst("export ".count) }
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { return nil }
            let key = String(line[..<equals]).trimmingCharacters(in: .whitespaces)
            var value = String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            } else if let comment = value.range(of: " #") {
                // Unquoted, ` #` starts a comment, as docker compose reads it.
                value = String(value[..<comment.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            return key.isEmpty ? nil : (key, value)
        }
    }

    /// The configuration lines that use the chosen files.
    var configurationLines: [String] {
        var lines: [String] = []
        for kind in Kind.allCases {
            guard let file = chosen[kind] else { continue }
            lines += ["\(kind.rawValue):", "  file: \(Self.yamlScalar(file))"]
        }
        return lines
    }

    private static func yamlScalar(_ text: String) -> String {
        let plain = text.allSatisfy { $0.isLetter || $0.isNumber || "/._-".contains($0) }
        return plain ? text : "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Loads the chosen files as `serve` would, with no `HELPDESK_*` variable of this environment in the
    /// way (an exported HELPDESK_USERS_FILE would otherwise replace the folder's).
    func check(environment: [String: String]) -> Report {
        var out: [String] = ["aiHelpDesk deployment in \(folder)"]
        var problems: [String] = []
        var warnings: [String] = []
        let clean = environment.filter { !$0.key.hasPrefix("HELPDESK_") }
        var policyCount: Int?
        if let file = chosen[.policies] {
            do {
                let loaded = try PolicyLoader.loadFile(file, knownTools: BuiltInTools.names)
                policyCount = loaded.policies.count
                warnings += loaded.warnings.map(\.description)
            } catch {
                problems += error.errors.map(\.description)
                warnings += error.warnings.map(\.description)
            }
        }
        // Each file on its own, so one that does not load leaves the others' counts and problems readable.
        var loaded: [Kind: HelpdeskConfiguration] = [:]
        for kind in [Kind.infrastructure, .users] {
            guard let file = chosen[kind] else { continue }
            let lines = "\(kind.rawValue):\n  file: \(Self.yamlScalar(file))\n"
            do {
                let configuration = try HelpdeskConfiguration(yaml: lines, file: "(import)", environment: clean)
                loaded[kind] = configuration
                warnings += configuration.warnings.map(\.description)
            } catch {
                problems += error.issues.map(\.description)
                warnings += error.warnings.map(\.description)
            }
        }
        let width = Kind.allCases.map(\.rawValue.count).max() ?? 0
        for kind in Kind.allCases {
            let label = kind.rawValue.padding(toLength: width, withPad: " ", startingAt: 0)
            guard let file = chosen[kind] else {
                out.append("  \(label)  none found (\(kind.variable) names none, and no file name looks like one)")
                continue
            }
            var summary = ""
            switch kind {
            case .policies:
                summary = policyCount.map { "\($0) \($0 == 1 ? "policy" : "policies")" } ?? "does not load"
            case .infrastructure:
                if let inventory = loaded[.infrastructure]?.infrastructure {
                    summary = "\(inventory.dbServers.count) database(s), \(inventory.k8sClusters.count) cluster(s), \(inventory.vms.count) VM(s)"
                }
            case .users:
                if let directory = loaded[.users]?.directory {
                    summary = "\(directory.users.count) user(s), \(directory.serviceAccounts.count) service account(s)"
                }
            }
            if summary.isEmpty { summary = "does not load" }
            out.append("  \(label)  \(file) — \(summary)")
            for other in others[kind] ?? [] {
                out.append("  \(String(repeating: " ", count: width))  not used: \(other) (name it with --\(kind.rawValue))")
            }
        }
        for subfolder in subfolders {
            out.append("  also a deployment? \(subfolder): helpdesk import aihelpdesk \(subfolder)")
        }
        if !problems.isEmpty {
            out.append("")
            out.append("does not load (fix these first; serve and config check refuse them too):")
            out += problems.flatMap { $0.split(separator: "\n").map { "  " + $0 } }
        }
        if !warnings.isEmpty {
            out.append("")
            out.append("loads with warnings:")
            out += warnings.map { "  " + $0 }
        }
        out.append("")
        out.append("configuration lines (add to helpdesk.yaml; nothing was changed):")
        out += configurationLines.map { "  " + $0 }
        let hints = environmentHints
        if !hints.isEmpty {
            out.append("")
            out.append("from \(environmentFile ?? ".env"):")
            out += hints.map { "  " + $0 }
        }
        return Report(text: out.joined(separator: "\n"), problems: problems)
    }

    /// What the folder's aiHelpDesk settings become here; secret values are never printed.
    var environmentHints: [String] {
        let settings = Dictionary(environmentSettings, uniquingKeysWith: { _, last in last })
        var hints: [String] = []
        for kind in Kind.allCases {
            for variable in kind.hostVariables where settings[variable] != nil {
                hints.append("\(variable) → \(kind.rawValue).file (above), or HELPDESK_\(kind.rawValue.uppercased())_FILE")
            }
        }
        if settings["HELPDESK_POLICY_ENABLED"]?.lowercased() == "false" {
            hints.append("HELPDESK_POLICY_ENABLED=false: there is no switch for that here; every tool call is decided by the policies")
        }
        if let vendor = settings["HELPDESK_MODEL_VENDOR"]?.lowercased() {
            let model = settings["HELPDESK_MODEL_NAME"].map { ", llm.model: \($0)" } ?? ""
            if vendor.contains("anthropic") || vendor.contains("openai") {
                let provider = vendor.contains("anthropic") ? "anthropic" : "openai"
                let key = provider == "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY"
                hints.append("HELPDESK_MODEL_VENDOR → llm.provider: \(provider)\(model); HELPDESK_API_KEY (the model's key) → \(key)")
            } else {
                // Gemini and others: only OpenAI-compatible endpoints are spoken here.
                hints.append("HELPDESK_MODEL_VENDOR \(vendor) has no provider here: use llm.provider: openai with llm.base_url of an OpenAI-compatible endpoint\(model)")
            }
        }
        if settings["KUBECONFIG"] != nil {
            hints.append("KUBECONFIG → the same variable, or infrastructure k8s_clusters.NAME.kubeconfig")
        }
        return hints
    }
}
