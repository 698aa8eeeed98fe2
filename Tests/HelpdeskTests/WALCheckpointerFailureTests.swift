import Foundation
import GRDB
@testable import HelpdeskStore
import HelpdeskTestSupport
import Testing

/// A checkpoint that fails is said in the log, at most once a minute, not swallowed.
@Suite struct WALCheckpointerFailureTests {
    @Test func aFailingCheckpointIsLoggedOnceAMinute() async throws {
        let (logger, lines) = PolicyWarningTests.capturingLogger()
        // Its connection cannot open: no such folder.
        let checkpointer = WALCheckpointer(path: "/nonexistent-\(UUID().uuidString)/helpdesk.sqlite", configuration: Configuration(),
                                           logger: logger)
        defer { checkpointer.close() }
        checkpointer.committed()
        #expect(await eventually { checkpointer.failures == 1 })
        checkpointer.committed()
        #expect(await eventually { checkpointer.failures == 2 })
        let said = lines.all.filter { $0.contains("the store's write-ahead log could not be checkpointed: ") }
        #expect(said.count == 1, "the second failure, within the minute, is not said again: \(lines.all)")
        #expect(said.first?.contains("warning") == true, "\(said)")
    }
}
