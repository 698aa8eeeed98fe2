import ArgumentParser
import Foundation
import HelpdeskAgents
import HelpdeskConfig
import HelpdeskContent
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskServer
import HelpdeskStore
import Logging

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy", abstract: "Work with policy files.", subcommands: [Check.self, Show.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate policy files; exit 0 when valid (warnings, with file:line, on standard error), 2 with file:line errors when not.")

        @Argument(help: "A policy file or a folder of them (default: the policies in force: policies.file or policies.dir, else the built-in ones).")
        var path: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let target: String
            let loaded: PolicyLoader.Loaded
            if let path {
                // A path is checked on its own, as it would be deployed; no configuration needed.
                target = path
                do { loaded = try PolicyLoader.load(path, knownTools: BuiltInTools.names) } catch { throw PolicyCommand.failure(error) }
            } else {
                let content = ContentLibrary(try global.loadConfiguration())
                target = content.origin(.policies)?.path ?? "built-in policies"
                do {
                    loaded = try PolicyLoader.load(from: content, knownTools: BuiltInTools.names)
                } catch {
                    throw PolicyCommand.failure(error)
                }
            }
            // Warnings do not fail the check: the files load, as `serve` would load them.
            for warning in loaded.warnings { printError("warning: \(warning)") }
            let policies = loaded.policies
            print("ok: \(target) — \(policies.count) polic\(policies.count == 1 ? "y" : "ies") (\(policies.filter(\.enabled).count) enabled)"
                + (loaded.warnings.isEmpty ? "" : ", \(loaded.warnings.count) warning(s)"))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the policies in force, file by file, and where each file comes from (the binary, policies.file or policies.dir).")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let content = ContentLibrary(try global.loadConfiguration())
            let files: [ContentFile]
            let policies: [Policy]
            do {
                files = try content.files(.policies)
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            do { policies = try PolicyLoader.load(files) } catch { throw PolicyCommand.failure(error) }
            if let origin = content.origin(.policies) {
                print("policies from \(origin.path) (\(origin.key)); the built-in policies are not in force")
            } else {
                print("built-in policies (neither policies.file nor policies.dir is set)")
            }
            print(builtInContentLine)
            for file in files {
                let inFile = policies.filter { $0.file == file.location }
                print("\n\(file.location): \(inFile.count) polic\(inFile.count == 1 ? "y" : "ies")")
                for policy in inFile.sorted(by: { $0.priority > $1.priority }) {
                    let rules = "\(policy.rules.count) rule\(policy.rules.count == 1 ? "" : "s")"
                    let state = policy.enabled ? "" : ", disabled"
                    let about = policy.description.isEmpty ? "" : " — \(policy.description)"
                    print("  \(policy.name) (priority \(policy.priority), \(rules)\(state))\(about)")
                }
            }
            if !policies.contains(where: \.enabled) { print("\nno enabled policy: every action is denied") }
        }
    }

    /// Prints every problem as `file:line: …` and gives the exit status for policies that do not load.
    static func failure(_ errors: PolicyLoadErrors) -> ExitCode {
        for warning in errors.warnings { printError("warning: \(warning)") }
        for problem in errors.errors { printError(problem.description) }
        return ExitCode(2)
    }
}

struct GovExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "govexplain",
        abstract: "Explain a past decision (--event) or what the current policies would decide for a request.",
        discussion: "Exit status for a hypothetical request: 0 allow, 1 deny, 2 needs approval, 3 error.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "An audit event id (evt_…) to explain.") var event: String?
    @Option(help: "TYPE:NAME, e.g. database:prod-db, kubernetes:prod-cluster, host:vm1.") var resource: String?
    @Option(help: "read, write or destructive.") var action: ActionClass?
    @Option(help: "Comma-separated resource tags (default: the inventory's).") var tags: String?
    @Option(help: "The tool, for tool-specific policies.") var tool = "any"
    @Option(help: "Who asks: a user name, or service:NAME.") var principal = "anonymous"
    @Option(help: "The Kubernetes namespace.") var namespace: String?
    @Option(help: "The declared purpose.") var purpose: String?
    @Option(help: "When, as ISO 8601 (default: now).") var at: String?

    func run() async throws {
        let configuration = try global.loadConfiguration()
        if let event {
            try await withStore(configuration) { store in
                guard let record = try await store.audit.event(id: event) else {
                    printError("no audit event \(event)")
                    throw ExitCode(3)
                }
                let data = (try? JSONValue(parsing: record.data)) ?? .null
                print("\(record.id) at \(record.at.formatted(.iso8601)): \(record.kind) by \(record.principal ?? "-") on \(record.target ?? "-")")
                if let decision = data["decision"] {
                    print("decision: \(decision["effect"]?.description ?? "?")")
                    print("policy: \(decision["policy"]?.description ?? "none (default deny)")")
                    print("why: \(decision["reason"]?.description ?? "")")
                    if let message = decision["message"], message != .null { print("message: \(message)") }
                }
                print(data.prettyJSONText)
            }
            return
        }
        guard let resource, let action, let colon = resource.firstIndex(of: ":"),
              let type = ResourceType(rawValue: String(resource[..<colon])) else {
            printError("give --event ID, or --resource TYPE:NAME (database, kubernetes, host or alertmanager) and --action read|write|destructive")
            throw ExitCode(3)
        }
        let name = String(resource[resource.index(after: colon)...])
        var date = Date()
        if let at {
            guard let parsed = try? Date(at, strategy: .iso8601) else {
                printError("--at: expected an ISO 8601 time such as 2026-11-24T22:00:00Z, got \"\(at)\"")
                throw ExitCode(3)
            }
            date = parsed
        }
        let inventoryTags = configuration.infrastructure.dbServers.first { $0.id == name }?.tags
            ?? configuration.infrastructure.k8sClusters.first { $0.id == name }?.tags
            ?? configuration.infrastructure.vms.first { $0.id == name }?.tags ?? []
        // The same resolution the server uses: users, and service accounts with their roles.
        let who = principal == "anonymous" ? Principal.anonymous : Governance.principal(named: principal, in: configuration.directory)
        let engine: PolicyEngine
        do {
            engine = PolicyEngine(policies: try PolicyLoader.load(from: ContentLibrary(configuration)))
        } catch {
            for problem in error.errors { printError(problem.description) }
            throw ExitCode(3)
        }
        let touched = Resource(type: type, name: name, tags: tags.map { $0.split(separator: ",").map(String.init) } ?? inventoryTags,
                               sensitivity: configuration.infrastructure.sensitivity(of: name), namespace: namespace)
        let request = ActionRequest(principal: who, resource: touched, tool: AIHelpDeskToolNames.ours(tool), action: action, purpose: purpose, at: date,
                                    approvalOverrideRoles: Governance.approvalOverrideRoles(of: touched, in: configuration.infrastructure))
        let decision = engine.decide(request)
        print("decision: \(decision.effect.rawValue)")
        print("policy: \(decision.policy ?? "none (default deny)")" + (decision.rule.map { ", rule \($0 + 1)" } ?? ""))
        print("why: \(decision.reason)")
        if let message = decision.message { print("message: \(message)") }
        if decision.effect == .requireApproval {
            print("approvals: \(decision.quorum) from \(decision.approvers.isEmpty ? "anyone but the requester" : decision.approvers.joined(separator: ", "))")
        }
        switch decision.effect {
        case .allow: return
        case .deny: throw ExitCode(1)
        case .requireApproval: throw ExitCode(2)
        }
    }
}

extension ActionClass: ExpressibleByArgument {}
extension ApprovalStatus: ExpressibleByArgument {}

struct ApprovalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals", abstract: "List, inspect and decide approval requests.",
        subcommands: [List.self, Show.self, Approve.self, Deny.self, Watch.self, Link.self])

    struct Link: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an approver's personal approval link (what the approval email carries).")
        @OptionGroup var global: GlobalOptions
        @Argument var id: String
        @Option(name: .customLong("for"), help: "The approver (a user under users:).") var approver: String
        @Option(help: "Seconds the link stays valid (default: until the request expires).") var validFor: Int?

        func run() async throws {
            let configuration = try global.loadConfiguration()
            guard let keys = ApprovalKeyRing(configuration.approvals), let base = configuration.server.publicBaseURL else {
                printError("approval links need HELPDESK_APPROVALS_LINK_KEY (or approvals.link_key_file) and server.public_base_url")
                throw ExitCode(2)
            }
            try await withStore(configuration) { store in
                guard let record = try await store.approvals.approval(id: id) else {
                    printError("no approval request \(id)")
                    throw ExitCode(1)
                }
                let expires = validFor.map { min(record.expiresAt, Date().addingTimeInterval(TimeInterval($0))) } ?? record.expiresAt
                print(ApprovalLinks(keys: keys).link(base: base, approvalID: id, approver: approver, expires: expires).absoluteString)
            }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print approval requests as they open and as they are decided, until interrupted.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Seconds between looks.") var interval = 2

        func run() async throws {
            try await withStore(try global.loadConfiguration()) { store in
                var seen: [String: String] = [:]
                while !Task.isCancelled {
                    for record in try await store.approvals.list(status: nil, limit: 200).reversed() {
                        let approvals = record.votes.filter { $0.vote == .approve }.count
                        let state = "\(record.status.rawValue) \(approvals)/\(record.quorum) \(record.execution ?? "")"
                        guard seen[record.id] != state else { continue }
                        seen[record.id] = state
                        let call = "\(record.call?.tool ?? "?") on \(record.call?.target ?? "?")"
                        print("\(Date().formatted(.iso8601))  \(record.id)  \(state)  \(call)  by \(record.requester)")
                    }
                    try await Task.sleep(for: .seconds(max(1, interval)))
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var global: GlobalOptions
        @Option(help: "pending, approved, denied or expired.") var status: ApprovalStatus?

        func run() async throws {
            try await withStore(try global.loadConfiguration()) { store in
                for record in try await store.approvals.list(status: status, limit: 200) {
                    let call = "\(record.call?.callText ?? "?") on \(record.call?.target ?? "?")"
                    let approvals = record.votes.filter { $0.vote == .approve }.count
                    print("\(record.id)  \(record.status.rawValue)  \(approvals)/\(record.quorum)  \(call)  by \(record.requester)  expires \(record.expiresAt.formatted(.iso8601))")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var global: GlobalOptions
        @Argument var id: String

        func run() async throws {
            try await withStore(try global.loadConfiguration()) { store in
                guard let record = try await store.approvals.approval(id: id) else {
                    printError("no approval request \(id)")
                    throw ExitCode(1)
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(record), as: UTF8.self))
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        @OptionGroup var global: GlobalOptions
        @Argument var id: String
        @Option(name: .customLong("as"), help: "Who approves (a user under users:).") var principal: String
        @Option(help: "Why.") var reason: String?

        func run() async throws { try await decide(global: global, id: id, principal: principal, approve: true, reason: reason) }
    }

    struct Deny: AsyncParsableCommand {
        @OptionGroup var global: GlobalOptions
        @Argument var id: String
        @Option(name: .customLong("as"), help: "Who denies (a user under users:).") var principal: String
        @Option(help: "Why.") var reason: String?

        func run() async throws { try await decide(global: global, id: id, principal: principal, approve: false, reason: reason) }
    }

    /// Votes from the command line, through the same gate as every other door.
    static func decide(global: GlobalOptions, id: String, principal: String, approve: Bool, reason: String?) async throws {
        let configuration = try global.loadConfiguration()
        let (logger, redactor) = global.bootstrapLogging(configuration, defaultLevel: .warning)
        try await withComposition(configuration, logger: logger, redactor: redactor) { app in
            let governance = app.governance
            let result = try await governance.vote(on: id, by: governance.principal(named: principal), approve: approve, reason: reason, via: "cli")
            switch result {
            case .recorded, .approved, .denied:
                print(result.message)
            default:
                printError(result.message)
                throw ExitCode(1)
            }
        }
    }
}
