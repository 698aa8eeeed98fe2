import Foundation
import HelpdeskConfig
import HelpdeskCore
import HelpdeskStore
import Logging
import ServiceLifecycle

extension AuditChain {
    /// The chain `settings` describe, for the store file at `storePath`.
    public static func configured(_ settings: AuditSettings, storePath: String?) -> AuditChain {
        let current = settings.key.map { AuditKey(id: settings.keyID, secret: $0) }
        let previous = zip(settings.previousKey, settings.previousKeyID).map { AuditKey(id: $1, secret: $0) }
        return AuditChain(keyring: AuditKeyring(current: current, previous: previous),
                          checkpointFile: settings.checkpointPath(storePath: storePath), checkpointEvery: settings.checkpointEvery)
    }
}

private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}

/// Writes a signed checkpoint of the audit log's head to the chain's checkpoint file, and as a log
/// line, every `checkpoint_every` events and at shutdown, so events deleted from the end of the
/// log can be noticed. It never replaces a checkpoint the log no longer reaches: that one is the
/// evidence, so checkpoints pause (with an error in the log) until someone has looked.
///
/// Appends in this process wake it when a checkpoint is due; appends by other processes (the
/// command line) are seen by a cheap read of the head every `pollInterval`.
public struct AuditCheckpointService: Service {
    let log: any AuditLog
    let chain: AuditChain
    let logger: Logger
    let pollInterval: Duration
    /// Checkpoints are fsynced files: under load `checkpoint_every` events came many times a
    /// second, so a checkpoint follows the previous one after at least this long.
    let minInterval: Duration
    let now: @Sendable () -> Date

    public init(log: any AuditLog, chain: AuditChain, logger: Logger, pollInterval: Duration = .seconds(5),
                minInterval: Duration = .seconds(1), now: @escaping @Sendable () -> Date = Date.init) {
        self.log = log
        self.chain = chain
        self.logger = logger
        self.pollInterval = pollInterval
        self.minInterval = minInterval
        self.now = now
    }

    /// The server's checkpointer for `store`: the chain attached to it when it is a ``SQLiteStore``
    /// (so its appends wake this service), else the one `settings` describe.
    public init(store: any Store, settings: AuditSettings, storePath: String?, logger: Logger) {
        let chain = store.auditChain ?? .configured(settings, storePath: storePath)
        self.init(log: store.audit, chain: chain, logger: logger)
    }

    public func run() async throws {
        if !chain.keyring.isKeyed {
            logger.warning("""
                the audit log is not keyed: anyone who can write the store file can rewrite it undetected; \
                set HELPDESK_AUDIT_KEY (or audit.key_file)
                """)
        }
        // Without a file (PostgreSQL without audit.checkpoint_file) the signed lines still go to the log,
        // which central logging keeps apart from the database.
        var writer = CheckpointWriter(path: chain.checkpointFile, service: self)
        await writer.start()
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { await chain.waitUntilCheckpointDue(timeout: pollInterval) }
            if await writer.write(onlyIfDue: true) {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: minInterval) }
            }
        }
        await writer.write(onlyIfDue: false)
    }
}

/// The service's state: the head last sealed, and whether the log still reaches it.
private struct CheckpointWriter {
    let path: String?
    let service: AuditCheckpointService
    var last = AuditHead(seq: 0, hash: AuditHashing.genesis)
    var paused = false

    /// Takes up where the file left off, or writes a first checkpoint when there is none.
    mutating func start() async {
        guard let path else {
            await write(onlyIfDue: false)
            return
        }
        let stored: AuditCheckpoint?
        do {
            stored = try await withBlockingIO { try AuditCheckpoint.read(file: path) }
        } catch {
            return pause("\(error)")
        }
        guard let stored else {
            await write(onlyIfDue: false)
            return
        }
        do {
            let verification = try await service.log.verify(checkpoint: .given(stored, source: path))
            if let check = verification.checkpoint, check.failed { return pause(check.message) }
        } catch {
            return pause("cannot read the audit log: \(error)")
        }
        last = AuditHead(seq: stored.seq, hash: stored.hash)
    }

    /// Whether a checkpoint was written.
    @discardableResult
    mutating func write(onlyIfDue: Bool) async -> Bool {
        guard !paused else { return false }
        do {
            guard let head = try await service.log.head(), head != last else { return false }
            let every = Int64(service.chain.checkpointEvery)
            if onlyIfDue, head.seq / every == last.seq / every { return false }
            let sealed = last.seq > 0 && head.seq >= last.seq ? try await service.log.hash(at: last.seq) : last.hash
            if head.seq < last.seq || sealed != last.hash {
                pause("the log no longer reaches the last checkpoint (seq \(last.seq)): events were deleted or rewritten")
                return false
            }
            let checkpoint = AuditCheckpoint.sign(head, at: service.now(), keyring: service.chain.keyring)
            // An fsync: off the cooperative pool, where under load it held one of its threads for up to 30 ms.
            if let path { try await withBlockingIO { try checkpoint.write(to: path) } }
            service.logger.info("\(checkpoint.line)")
            last = head
            return true
        } catch {
            service.logger.error("audit checkpoint not written: \(error)")
            return false
        }
    }

    private mutating func pause(_ reason: String) {
        paused = true
        service.logger.error("""
            audit checkpoints paused: \(reason). Run `helpdesk audit verify`; once investigated, move \(path ?? "the checkpoint file") \
            aside and restart to start a new series of checkpoints
            """)
    }
}
