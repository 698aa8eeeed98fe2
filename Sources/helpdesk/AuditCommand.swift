import ArgumentParser
import Foundation
import HelpdeskConfig
import HelpdeskGovernance
import HelpdeskStore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Check and export the hash-chained audit log.",
                                                    subcommands: [Verify.self, Export.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every link of the chain, and its end against the last signed checkpoint.",
            discussion: "Exit 0 intact, 1 broken (naming the first broken event, or the events missing from the end), " +
                "2 when the --checkpoint given cannot be read.")
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("A checkpoint file, an export whose last line is one, or the checkpoint line itself.",
                                   discussion: "Default: audit.checkpoint_file (the store file's path + .audit-checkpoint).",
                                   valueName: "FILE|LINE"))
        var checkpoint: String?

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let source = try checkpoint.map(Self.source) ?? .configured
            try await withAuditStore(configuration) { store in
                let result = try await store.audit.verify(checkpoint: source)
                let keys = result.keyed > 0 ? " (\(result.keyed) sealed with an audit key, \(result.unkeyed) plain SHA-256)" : ""
                if let check = result.checkpoint, !check.failed {
                    if check.status == .absent { printError("warning: \(check.message)") }
                }
                guard result.ok else {
                    if let seq = result.brokenAt {
                        printError("chain broken at event \(seq) (\(result.brokenID ?? "?")): \(result.problem ?? "")")
                    } else {
                        printError(result.problem ?? "the audit log does not verify")
                    }
                    throw ExitCode(1)
                }
                print("ok: \(result.checked) events, chain intact\(keys)")
                if let check = result.checkpoint, check.status == .ok { print("ok: \(check.message)") }
                if store.auditChain?.keyring.isKeyed != true {
                    printError("warning: no audit key is configured, so a rewritten chain cannot be told apart: set HELPDESK_AUDIT_KEY")
                }
            }
        }

        /// A checkpoint line as given, or the last line of the file named.
        static func source(_ argument: String) throws -> AuditCheckpointSource {
            if argument.contains("audit checkpoint ") || argument.hasPrefix("{") {
                guard let parsed = AuditCheckpoint.parse(argument) else {
                    printError("--checkpoint: expected a line such as audit checkpoint seq=… hash=… at=… key_id=… mac=…")
                    throw ExitCode(2)
                }
                return .given(parsed, source: "--checkpoint")
            }
            do {
                guard let parsed = try AuditCheckpoint.read(file: argument) else {
                    printError("--checkpoint: no file \(argument)")
                    throw ExitCode(2)
                }
                return .given(parsed, source: argument)
            } catch let error as AuditCheckpointError {
                printError("--checkpoint: \(error)")
                throw ExitCode(2)
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print events as JSON lines, oldest first; with an audit key, then a signed checkpoint of the log's head.",
            discussion: "Keep an export: `helpdesk audit verify --checkpoint EXPORT` later shows whether events were deleted since.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only events at or after this ISO 8601 time.") var since: String?

        func run() async throws {
            let cutoff = try since.map { text -> Date in
                guard let date = try? Date(text, strategy: .iso8601) else {
                    printError("--since: expected an ISO 8601 time, got \"\(text)\"")
                    throw ExitCode(2)
                }
                return date
            }
            let configuration = try global.loadConfiguration()
            try await withAuditStore(configuration) { store in
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                let events = try await store.audit.events(since: cutoff, limit: 10_000_000)
                for event in events {
                    print(String(decoding: try encoder.encode(event), as: UTF8.self))
                }
                // Only a keyed checkpoint proves anything (anyone can forge a checksum), and readers
                // of unkeyed exports have always found events on every line.
                guard let keyring = store.auditChain?.keyring, keyring.isKeyed else { return }
                var head = events.last.map { AuditHead(seq: $0.seq, hash: $0.hash) }
                if head == nil { head = try await store.audit.head() }
                if let head { print(AuditCheckpoint.sign(head, at: Date(), keyring: keyring).jsonLine) }
            }
        }
    }
}

/// Runs `body` with the store open and its audit chain (keys, checkpoint file) attached.
private func withAuditStore<Result>(_ configuration: HelpdeskConfiguration,
                                    _ body: (any Store) async throws -> Result) async throws -> Result {
    try await withStore(configuration) { store in
        store.attachAuditChain(.configured(configuration.audit, storePath: configuration.store.localFilePath))
        return try await body(store)
    }
}
