import Foundation
import HelpdeskCore
@testable import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// The store copies its write-ahead log into the database file off the writer's thread; the
/// writer's own automatic checkpoint only starts at 200,000 pages, far above what this writes.
@Suite struct WALCheckpointerTests {
    @Test func writesReachTheDatabaseFileWithoutTheWritersCheckpoint() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        let store = try SQLiteStore(options: .init(path: path))
        func fileSize() -> Int { ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0 }
        let before = fileSize()
        let text = String(repeating: "x", count: 2_000)
        for batch in 0..<20 {
            try await store.apply(ChangeSet(audit: (0..<50).map { AuditDraft(kind: "test", target: "\(batch)-\($0)", data: .object(["t": .string(text)])) }))
        }
        // About 2 MB of events: only a checkpoint puts them in the main file (a few hundred pages).
        let grown = await eventually(timeout: .seconds(60)) { fileSize() > before + 1_500_000 }
        #expect(grown, "the database file is still \(fileSize()) bytes (was \(before))")
        #expect(try await store.audit.verify().ok)
        try await store.close()
    }

    /// How often the store's log started over: its header counts restarts (the checkpoint sequence
    /// number, bytes 12-15, big-endian).
    private static func logRestarts(_ storePath: String) -> Int {
        guard let file = FileHandle(forReadingAtPath: storePath + "-wal") else { return 0 }
        defer { try? file.close() }
        guard let header = try? file.read(upToCount: 16), header.count == 16 else { return 0 }
        return header.dropFirst(12).reduce(0) { $0 << 8 | Int($1) }
    }

    /// Under steady writes the log starts over only if the writer finishes a checkpoint itself: before,
    /// it grew to the 200,000-page backstop (800 MB), where a commit checkpointed and fsynced it all.
    @Test func steadySmallWritesStartTheLogOver() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        var options = SQLiteStore.Options(path: path)
        options.walRestartFrames = 512
        let store = try SQLiteStore(options: options)
        func size(_ file: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: file)[.size]) as? Int) ?? 0 }
        func restarts() -> Int { Self.logRestarts(path) }
        let text = String(repeating: "x", count: 4_000)
        // Back to back, one at a time (groups of one: the writer has time), each event an overflow page and index
        // pages: about 15,000 frames (62 MB) stay in the log if it never starts over, under 2,000 if it does;
        // a fast machine may write more between restarts, so the restarts are what is counted.
        try await store.apply(ChangeSet(audit: [AuditDraft(kind: "test")]))
        let restartsBefore = restarts()
        for index in 0..<2_000 {
            try await store.apply(ChangeSet(audit: [AuditDraft(kind: "test", target: "\(index)", data: .object(["t": .string(text)]))]))
        }
        let pageBytes = 4_096 + 24
        #expect(size(path) > 2_000 * 4_000, "the events reached the database file")
        #expect(restarts() >= restartsBefore + 3, "the log started over \(restarts() - restartsBefore) times")
        // The checkpointer synced the database file itself before handing the writer a restart.
        #expect(store.checkpointer.flushes >= 1)
        #expect(size(path + "-wal") < 10_000 * pageBytes, "the log grew to \(size(path + "-wal") / pageBytes) frames")
        #expect(try await store.audit.verify().ok)
        try await store.close()
    }

    /// Sixteen callers writing in a loop: the writer waits for them, so each group (16 writes) is bigger
    /// than ``GroupCommitWriter/restartGroupSize``; one it waited for still has time to start the log over.
    /// The window is short, so commits come close together and the checkpointer never copies the whole
    /// log between two of them (with a long one the log starts over by itself).
    @Test func writesGatheredIntoBigGroupsStillStartTheLogOver() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("hd.sqlite")
        var options = SQLiteStore.Options(path: path)
        options.walRestartFrames = 512
        options.commitGatherWindow = .milliseconds(5)
        let store = try SQLiteStore(options: options)
        func restarts() -> Int { Self.logRestarts(path) }
        let text = String(repeating: "x", count: 4_000)
        try await store.apply(ChangeSet(audit: [AuditDraft(kind: "test")]))
        let restartsBefore = restarts()
        let callers = 16
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<callers {
                group.addTask {
                    for index in 0..<60 {
                        try await store.apply(ChangeSet(audit: [AuditDraft(kind: "test", target: "\(caller).\(index)", data: .object(["t": .string(text)]))]))
                    }
                }
            }
            try await group.waitForAll()
        }
        // ~60 commits of ~16 writes: 2 restarts here; 0 without the waited-for rule (checked, 3 runs).
        #expect(restarts() >= restartsBefore + 1, "the log started over \(restarts() - restartsBefore) times; \(store.writeCounters)")
        #expect(try await store.audit.verify().ok)
        try await store.close()
    }
}
