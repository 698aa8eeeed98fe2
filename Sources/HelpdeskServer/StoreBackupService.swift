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
/// Each backup is an online copy (``SQLiteBackup``) named with its UTC time in `store.backup_dir`,
/// with its manifest sealed under the audit key; the oldest beyond `store.backup_keep` are deleted
/// once a new one is written (manual `helpdesk backup` files, named `-manual-`, never are). The next
/// backup is due one interval after the newest file, so restarts neither skip nor repeat one. At
/// start and before each backup, temporaries an interrupted backup left are removed.
public struct StoreBackupService: Service {
    let storePath: String
    let directory: String
    let interval: Duration
    let keep: Int
    let keyring: AuditKeyring
    let checkpointFile: String?
    let logger: Logger
    let metrics: any MetricsFactory
    let now: @Sendable () -> Date

    public init(storePath: String, directory: String, interval: Duration, keep: Int, keyring: AuditKeyring = AuditKeyring(),
                checkpointFile: String? = nil, logger: Logger, metrics: any MetricsFactory,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.storePath = storePath
        self.directory = directory
        self.interval = interval
        self.keep = keep
        self.keyring = keyring
        self.checkpointFile = checkpointFile
        self.logger = logger
        self.metrics = metrics
        self.now = now
    }

    /// The service `store:` asks for, sealing manifests with `chain`'s key; `nil` when `backup_schedule` is off.
    public static func configured(_ settings: StoreSettings, chain: AuditChain, logger: Logger,
                                  metrics: any MetricsFactory) -> StoreBackupService? {
        // PostgreSQL is backed up by its own tools (pg_dump, base backups); store.backup_schedule is SQLite's.
        guard settings.driver == .sqlite else { return nil }
        return settings.backupSchedule.map {
            StoreBackupService(storePath: settings.path, directory: settings.resolvedBackupDirectory, interval: $0,
                               keep: settings.backupKeep, keyring: chain.keyring, checkpointFile: chain.checkpointFile,
                               logger: logger, metrics: metrics)
        }
    }

    public func run() async throws {
        logger.info("store backups scheduled", metadata: [
            "every": "\(interval.compactText)", "dir": "\(directory)", "keep": "\(keep)"])
        removeStaleTemporaries()
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
        let newest = BackupFiles.scheduled(in: directory, store: storePath, now: now()).last?.date
        let due = newest.map { $0.timeIntervalSince(now()) + interval.seconds } ?? 0
        let least = afterFailure ? min(interval.seconds, 600) : 10
        return .milliseconds(Int64(min(max(due, least), interval.seconds) * 1000))
    }

    /// Writes one backup and prunes the old ones; the path written, or `nil` after a failure (logged
    /// and counted in `helpdesk_store_backups_total{outcome="failed"}`).
    @discardableResult
    public func backupOnce() async -> String? {
        let started = ContinuousClock.now
        let date = now()
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            return failed(BackupError.unwritable(path: directory, reason: describeFileError(error)))
        }
        removeStaleTemporaries()
        let result: BackupResult
        do throws(BackupError) {
            result = try await SQLiteBackup.backup(store: storePath, inFolder: directory, kind: .scheduled, at: date,
                                                   keyring: keyring, checkpointFile: checkpointFile)
        } catch {
            return failed(error)
        }
        let elapsed = ContinuousClock.now - started
        let backups = MetricCatalog.storeBackups
        Counter(label: backups.name, dimensions: backups.dimensions("ok"), factory: metrics).increment()
        Timer(label: MetricCatalog.storeBackupDuration.name, factory: metrics).recordNanoseconds(elapsed.nanoseconds)
        Gauge(label: MetricCatalog.storeBackupLastSuccess.name, factory: metrics).record(now().timeIntervalSince1970)
        var pruned: [String] = []
        do {
            pruned = try BackupFiles.prune(in: directory, store: storePath, keep: keep, now: date)
        } catch {
            logger.warning("old store backups could not be deleted",
                           metadata: ["dir": "\(directory)", "error": "\(describeFileError(error))"])
        }
        let ahead = BackupFiles.futureDated(in: directory, store: storePath, now: date)
        if !ahead.isEmpty {
            logger.warning("store backups named more than a day ahead are neither kept nor pruned: check the clock, then move them away",
                           metadata: ["files": "\(ahead.joined(separator: ", "))"])
        }
        logger.info("store backed up", metadata: [
            "file": "\(result.path)", "bytes": "\(result.bytes)", "schema": "\(result.schema.version)",
            "manifest_key_id": "\(result.manifest.keyID)",
            "seconds": "\(String(format: "%.2f", elapsed.seconds))", "pruned": "\(pruned.count)"])
        return result.path
    }

    /// A copy killed midway (a crash, a kill -9) leaves a full-size temporary behind.
    private func removeStaleTemporaries() {
        let removed = BackupFiles.removeStaleTemporaries(in: directory, store: storePath, now: now())
        if !removed.isEmpty {
            logger.info("removed what interrupted store backups left", metadata: ["files": "\(removed.joined(separator: ", "))"])
        }
    }

    private func failed(_ error: BackupError) -> String? {
        let backups = MetricCatalog.storeBackups
        Counter(label: backups.name, dimensions: backups.dimensions("failed"), factory: metrics).increment()
        if error != .cancelled {
            logger.error("store backup failed", metadata: ["dir": "\(directory)", "error": "\(error)"])
        }
        return nil
    }
}
