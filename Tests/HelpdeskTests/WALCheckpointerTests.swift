import Foundation
import HelpdeskCore
import HelpdeskStore
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
        var grown = false
        for _ in 0..<100 where !grown {
            try await Task.sleep(for: .milliseconds(50))
            grown = fileSize() > before + 1_500_000
        }
        #expect(grown, "the database file is still \(fileSize()) bytes (was \(before))")
        #expect(try await store.audit.verify().ok)
        try await store.close()
    }
}
