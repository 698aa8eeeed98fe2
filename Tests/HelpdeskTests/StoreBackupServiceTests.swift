import Foundation
import HelpdeskServer
import HelpdeskStore
import HelpdeskTestSupport
import Logging
import Prometheus
import Synchronization
import Testing

/// The server's own backups on `store.backup_schedule`: UTC-named files, the newest `backup_keep`
/// kept, failures counted, and the next one due an interval after the newest.
@Suite struct StoreBackupServiceTests {
    final class TestTime: Sendable {
        private let date = Mutex(Date(timeIntervalSince1970: 1_773_468_900))  // 2026-03-14T06:15:00Z
        var now: Date { date.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { date.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    private func service(_ storePath: String, directory: String, time: TestTime, registry: PrometheusCollectorRegistry) -> StoreBackupService {
        StoreBackupService(storePath: storePath, directory: directory, interval: .seconds(3600), keep: 2,
                           logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                           metrics: PrometheusMetricsFactory(registry: registry), now: { time.now })
    }

    private func metrics(_ registry: PrometheusCollectorRegistry) -> String {
        var text: [UInt8] = []
        registry.emit(into: &text)
        return String(decoding: text, as: UTF8.self)
    }

    @Test func scheduledBackupsKeepTheNewestN() async throws {
        try await withTemporaryStore { store in
            try await store.apply(ChangeSet(jobs: [NewJob(kind: "k", payload: "{}")]))
            let directory = ((store.path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("backups")
            let time = TestTime()
            let registry = PrometheusCollectorRegistry()
            let backups = service(store.path, directory: directory, time: time, registry: registry)
            #expect(backups.nextPause(afterFailure: false) == .seconds(10), "no backup yet: one soon after start")
            var written: [String] = []
            for _ in 0..<4 {
                written.append(try #require(await backups.backupOnce()))
                time.advance(3600)
            }
            #expect(written.first?.hasSuffix("/backups/hd-20260314T061500Z.sqlite") == true)
            #expect(BackupFiles.scheduled(in: directory, store: store.path).map { $0.path } == Array(written.suffix(2)))
            #expect(metrics(registry).contains(#"helpdesk_store_backups_total{outcome="ok"} 4"#))

            // Due one interval after the newest file, also for a process that just started.
            time.advance(-1800)
            #expect(backups.nextPause(afterFailure: false) == .seconds(1800))
            let restarted = service(store.path, directory: directory, time: time, registry: registry)
            #expect(restarted.nextPause(afterFailure: false) == .seconds(1800))
        }
    }

    @Test func aFailedBackupIsCountedAndRetriedLater() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let registry = PrometheusCollectorRegistry()
        let backups = service(folder.file("missing.sqlite"), directory: folder.file("backups"), time: TestTime(), registry: registry)
        #expect(await backups.backupOnce() == nil)
        #expect(metrics(registry).contains(#"helpdesk_store_backups_total{outcome="failed"} 1"#))
        #expect(backups.nextPause(afterFailure: true) == .seconds(600))
        #expect(BackupFiles.scheduled(in: folder.file("backups"), store: "missing.sqlite").isEmpty)
    }
}
