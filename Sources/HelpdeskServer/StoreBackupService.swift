import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore
import Logging
import Metrics
import ServiceLifecycle

/// Backs the SQLite store up on `store.backup_schedule`, from inside the server: the store's volume
/// is mounted by this process alone (WAL needs one host), so no job or cron opens the file.
///
/// Each backup is an online copy (``SQLiteBackup``) named with its UTC time in `store.backup_dir`;
/// the oldest beyond `store.backup_keep` are deleted once a new one is written. The next backup is
/// due one interval after the newest file, so restarts neither skip nor repeat one.
public struct StoreBackupService: Service {
    let storePath: String
    let directory: String
    let interval: Duration
    let keep: Int
    let logger: Logger
    let metrics: any MetricsFactory
    let now: @Sendable () -> Date

    public init(storePath: String, directory: String, interval: Duration, keep: Int, logger: Logger,
                metrics: any MetricsFactory, now: @escaping @Sendable () -> Date = { Date() }) {
        self.storePath = storePath
        self.directory = directory
        self.interval = interval
        self.keep = keep
        self.logger = logger
        self.metrics = metrics
        self.now = now
    }

    /// The service `store:` asks for; `nil` when `backup_schedule` is off.
    public static func configured(_ settings: StoreSettings, logger: Logger, metrics: any MetricsFactory) -> StoreBackupService? {
        settings.backupSchedule.map {
            StoreBackupService(storePath: settings.path, directory: settings.resolvedBackupDirectory, interval: $0,
                               keep: settings.backupKeep, logger: logger, metrics: metrics)
        }
    }

    public func run() async throws {
        logger.info("store backups scheduled", metadata: [
            "every": "\(interval.compactText)", "dir": "\(directory)", "keep": "\(keep)"])
        var failedLast = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let pause = nextPause(afterFailure: failedLast)
            // Shutdown cancels the sleep, and a copy in progress (its temporary file is removed).
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: pause) })) != nil else { return }
            failedLast = await cancelWhenGracefulShutdown { await backupOnce() } == nil
        }
    }

    /// Until one interval after the newest backup (never longer, whatever time a file name claims);
    /// at least a short while after start, and a while after a failure.
    public func nextPause(afterFailure: Bool) -> Duration {
        let newest = BackupFiles.scheduled(in: directory, store: storePath).last?.date
        let due = newest.map { $0.timeIntervalSince(now()) + interval.seconds } ?? 0
        let least = afterFailure ? min(interval.seconds, 600) : 10
        return .milliseconds(Int64(min(max(due, least), interval.seconds) * 1000))
    }

    /// Writes one backup and prunes the old ones; the path written, or `nil` after a failure (logged
    /// and counted in `helpdesk_store_backups_total{outcome="failed"}`).
    @discardableResult
    public func backupOnce() async -> String? {
        let started = ContinuousClock.now
        let path = (directory as NSString).appendingPathComponent(BackupFiles.timestampedName(store: storePath, at: now()))
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            return failed(BackupError.unwritable(path: directory, reason: describeFileError(error)), path: path)
        }
        let result: BackupResult
        do throws(BackupError) {
            result = try await SQLiteBackup.backup(store: storePath, to: path)
        } catch {
            return failed(error, path: path)
        }
        let elapsed = ContinuousClock.now - started
        Counter(label: "helpdesk_store_backups_total", dimensions: [("outcome", "ok")], factory: metrics).increment()
        Timer(label: "helpdesk_store_backup_duration_seconds", factory: metrics).recordNanoseconds(elapsed.nanoseconds)
        Gauge(label: "helpdesk_store_backup_last_success_timestamp_seconds", factory: metrics).record(now().timeIntervalSince1970)
        var pruned: [String] = []
        do {
            pruned = try BackupFiles.prune(in: directory, store: storePath, keep: keep)
        } catch {
            logger.warning("old store backups could not be deleted",
                           metadata: ["dir": "\(directory)", "error": "\(describeFileError(error))"])
        }
        logger.info("store backed up", metadata: [
            "file": "\(path)", "bytes": "\(result.bytes)", "schema": "\(result.schema.version)",
            "seconds": "\(String(format: "%.2f", elapsed.seconds))", "pruned": "\(pruned.count)"])
        return path
    }

    private func failed(_ error: BackupError, path: String) -> String? {
        Counter(label: "helpdesk_store_backups_total", dimensions: [("outcome", "failed")], factory: metrics).increment()
        if error != .cancelled {
            logger.error("store backup failed", metadata: ["file": "\(path)", "error": "\(error)"])
        }
        return nil
    }
}
