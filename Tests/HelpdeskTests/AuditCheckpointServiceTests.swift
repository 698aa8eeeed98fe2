import Foundation
import HelpdeskCore
import HelpdeskGovernance
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The server's checkpoint writer: every `checkpoint_every` events, at shutdown, and never over a
/// checkpoint the log no longer reaches.
@Suite struct AuditCheckpointServiceTests {
    static let keyring = AuditKeyring(current: AuditKey(id: "k1", secret: Secret("checkpoint-test-key-0123456789")))

    final class LogLines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
    }

    /// Runs the service (in a service group, as the server does) while `body` runs, then shuts it
    /// down gracefully; returns the log lines it wrote, through the redacting handler.
    @discardableResult
    private func whileRunning(_ store: SQLiteStore, _ chain: AuditChain, _ lines: LogLines = LogLines(),
                              _ body: () async throws -> Void) async throws -> [String] {
        let redactor = Redactor()
        redactor.register([Secret("checkpoint-test-key-0123456789")])
        let logger = Logger(label: "test") { label in
            HelpdeskLogHandler(label: label, format: .human, level: .info, redactor: redactor) { line in lines.lines.withLock { $0.append(line) } }
        }
        let service = AuditCheckpointService(log: store.audit, chain: chain, logger: logger, pollInterval: .milliseconds(50))
        let group = ServiceGroup(services: [service], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            try await body()
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
        return lines.all
    }

    private func append(_ count: Int, to store: SQLiteStore) async throws {
        for _ in 0..<count { try await store.apply(ChangeSet(audit: [AuditDraft(kind: "request_received")])) }
    }

    @Test func writesASignedCheckpointEveryNEventsAndAtShutdown() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        let chain = AuditChain(keyring: Self.keyring, checkpointFile: folder.file("hd.sqlite.audit-checkpoint"), checkpointEvery: 3)
        store.attachAuditChain(chain)
        let lines = try await whileRunning(store, chain) {
            try await append(4, to: store)
            let atThree = await eventually {
                (try? AuditCheckpoint.read(file: folder.file("hd.sqlite.audit-checkpoint")))??.seq ?? 0 >= 3
            }
            #expect(atThree, "a checkpoint once the 3rd event is written")
            try await append(1, to: store)
        }
        let final = try #require(try AuditCheckpoint.read(file: folder.file("hd.sqlite.audit-checkpoint")))
        #expect(final.seq == 5 && final.keyID == "k1", "the shutdown checkpoint seals the last event")
        #expect(try await store.audit.verify().checkpoint?.status == .ok)
        let logged = lines.compactMap { AuditCheckpoint.parse($0) }
        #expect(logged.last == final, "the log line carries the same checkpoint: \(lines)")
        #expect(logged.count >= 2)
        try await store.close()
    }

    @Test func neverOverwritesACheckpointTheLogNoLongerReaches() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite.audit-checkpoint")
        let store = try SQLiteStore(options: .init(path: folder.file("hd.sqlite")))
        let chain = AuditChain(keyring: Self.keyring, checkpointFile: path, checkpointEvery: 1)
        store.attachAuditChain(chain)
        try await append(3, to: store)
        // A checkpoint from a longer log than this one: events 4 and 5 were deleted since.
        let evidence = AuditCheckpoint.sign(AuditHead(seq: 5, hash: String(repeating: "e", count: 64)), at: Date(), keyring: Self.keyring)
        try evidence.write(to: path)
        let lines = LogLines()
        try await whileRunning(store, chain, lines) {
            let paused = await eventually(timeout: .seconds(40)) { lines.all.contains { $0.contains("audit checkpoints paused") } }
            #expect(paused)
            #expect(lines.all.contains { $0.contains("the log ends at seq 3 but a checkpoint of \(evidence.at) saw seq 5: 2 events are missing") })
            try await append(2, to: store)
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(try AuditCheckpoint.read(file: path) == evidence, "the evidence stays")
        try await store.close()
    }
}
