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
            #expect(BackupFiles.scheduled(in: directory, store: store.path, now: time.now).map { $0.path } == Array(written.suffix(2)))
            #expect(!FileManager.default.fileExists(atPath: written[0] + ".manifest.json"), "a pruned backup's manifest goes with it")
            #expect(FileManager.default.fileExists(atPath: written[3] + ".manifest.json"))
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
        #expect(BackupFiles.scheduled(in: folder.file("backups"), store: "missing.sqlite", now: Date()).isEmpty)
    }

    @Test func manualBackupsAndSameSecondBackupsGetNamesOfTheirOwn() async throws {
        try await withTemporaryStore { store in
            let directory = ((store.path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("backups")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let time = TestTime()
            let manual = try await SQLiteBackup.backup(store: store.path, inFolder: directory, kind: .manual, at: time.now)
            let again = try await SQLiteBackup.backup(store: store.path, inFolder: directory, kind: .manual, at: time.now)
            #expect(manual.path.hasSuffix("/hd-manual-20260314T061500Z.sqlite"))
            #expect(again.path.hasSuffix("/hd-manual-20260314T061500Z-2.sqlite"), "the same second does not collide")

            let backups = service(store.path, directory: directory, time: time, registry: PrometheusCollectorRegistry())
            let first = try #require(await backups.backupOnce())
            let second = try #require(await backups.backupOnce())
            #expect(second == first.replacingOccurrences(of: ".sqlite", with: "-2.sqlite"))
            for _ in 0..<3 {
                time.advance(3600)
                _ = try #require(await backups.backupOnce())
            }
            #expect(BackupFiles.scheduled(in: directory, store: store.path, now: time.now).count == 2)
            #expect(FileManager.default.fileExists(atPath: manual.path) && FileManager.default.fileExists(atPath: again.path),
                    "manual backups are never pruned")
        }
    }

    @Test func onlyRegularFilesArePrunedAndFutureNamesHoldNoPlace() async throws {
        try await withTemporaryStore { store in
            let directory = ((store.path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("backups")
            let folderNamedLikeABackup = (directory as NSString).appendingPathComponent("hd-20260301T000000Z.sqlite")
            try FileManager.default.createDirectory(atPath: folderNamedLikeABackup, withIntermediateDirectories: true)
            try "keep me".write(toFile: folderNamedLikeABackup + "/inside", atomically: true, encoding: .utf8)
            let outside = (store.path as NSString).deletingLastPathComponent + "/outside.txt"
            try "keep me too".write(toFile: outside, atomically: true, encoding: .utf8)
            let link = (directory as NSString).appendingPathComponent("hd-20260302T000000Z.sqlite")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside)
            let future = (directory as NSString).appendingPathComponent("hd-20990101T000000Z.sqlite")
            try "planted".write(toFile: future, atomically: true, encoding: .utf8)

            let time = TestTime()
            let backups = service(store.path, directory: directory, time: time, registry: PrometheusCollectorRegistry())
            #expect(backups.nextPause(afterFailure: false) == .seconds(10), "neither the folder, the link nor the future name counts")
            for _ in 0..<3 {
                _ = try #require(await backups.backupOnce())
                time.advance(3600)
            }
            #expect(BackupFiles.scheduled(in: directory, store: store.path, now: time.now).count == 2)
            #expect(BackupFiles.futureDated(in: directory, store: store.path, now: time.now) == [future])
            #expect(FileManager.default.fileExists(atPath: folderNamedLikeABackup + "/inside"))
            #expect(FileManager.default.fileExists(atPath: outside))
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == outside)
            #expect(FileManager.default.fileExists(atPath: future))
        }
    }

    @Test func staleTemporariesOfThisStoreAreRemovedAndNothingElse() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let now = TestTime().now
        func make(_ name: String, age: TimeInterval) throws -> String {
            let path = folder.file(name)
            try "partial copy".write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.modificationDate: now.addingTimeInterval(-age)], ofItemAtPath: path)
            return path
        }
        let stale = [
            try make(".hd-20260314T051500Z.sqlite.tmp-k3x9m2pq", age: 7200),
            try make(".hd-20260314T051500Z.sqlite.tmp-k3x9m2pq-journal", age: 7200),
            try make(".hd-manual-20260314T051500Z-2.sqlite.tmp-abcdefgh", age: 7200),
            try make(".hd-20260314T051500Z.sqlite.manifest.json.tmp-abcdefgh", age: 7200),
        ]
        let kept = [
            try make(".hd-20260314T061000Z.sqlite.tmp-freshone", age: 600),           // a backup still running
            try make(".other-20260314T051500Z.sqlite.tmp-k3x9m2pq", age: 7200),       // another store's
            try make(".hd-20260314T051500Z.sqlite.tmp-k3x9", age: 7200),              // not the pattern
            try make("hd-20260314T051500Z.sqlite", age: 7200),                        // a backup
            try make(".hd.sqlite.tmp-k3x9m2pq", age: 7200),                           // not a backup's
        ]
        let linkTarget = try make("target.sqlite", age: 7200)
        let link = folder.file(".hd-20260314T041500Z.sqlite.tmp-linklink")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: linkTarget)
        let directory = folder.file(".hd-20260314T031500Z.sqlite.tmp-dirdirdi")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let removed = BackupFiles.removeStaleTemporaries(in: folder.path, store: "/var/lib/helpdesk/hd.sqlite", now: now)
        #expect(removed == stale.sorted())
        for path in stale { #expect(!FileManager.default.fileExists(atPath: path)) }
        for path in kept + [linkTarget, directory] { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == linkTarget)
    }
}
