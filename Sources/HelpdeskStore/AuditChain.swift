import Crypto
import Foundation
import GRDB
import HelpdeskCore
import Synchronization

/// One audit key and the id recorded beside every event it seals.
public struct AuditKey: Sendable {
    public let id: String
    let key: SymmetricKey

    public init(id: String, secret: Secret) {
        self.id = id
        key = SymmetricKey(data: Data(secret.reveal().utf8))
    }
}

/// The keys of an audit chain: the current one seals new events and checkpoints; the current and
/// the previous one both verify, so a key can be rotated without breaking the chain.
public struct AuditKeyring: Sendable {
    public var current: AuditKey?
    public var previous: AuditKey?

    public init(current: AuditKey? = nil, previous: AuditKey? = nil) {
        self.current = current
        self.previous = previous
    }

    public var isKeyed: Bool { current != nil }

    func key(id: String) -> AuditKey? {
        if let current, current.id == id { return current }
        if let previous, previous.id == id { return previous }
        return nil
    }

    /// The configured ids, for messages: `k2 (current), k1 (previous)`.
    var idsDescription: String {
        let ids = [current.map { "\($0.id) (current)" }, previous.map { "\($0.id) (previous)" }].compactMap { $0 }
        return ids.isEmpty ? "none" : ids.joined(separator: ", ")
    }
}

/// How one store's audit chain is sealed, and where its signed head checkpoints are kept.
public final class AuditChain: Sendable {
    public let keyring: AuditKeyring
    /// Outside the store file, so a writer of that file alone cannot roll the log back unnoticed.
    public let checkpointFile: String?
    public let checkpointEvery: Int
    let checkpointDue = WakeSignal()

    public init(keyring: AuditKeyring, checkpointFile: String?, checkpointEvery: Int = 100) {
        self.keyring = keyring
        self.checkpointFile = checkpointFile
        self.checkpointEvery = max(1, checkpointEvery)
    }

    /// Returns when an append crossed a multiple of ``checkpointEvery`` in this process, or after
    /// `timeout` (appends by other processes are only seen by looking).
    public func waitUntilCheckpointDue(timeout: Duration) async {
        await checkpointDue.wait(timeout: timeout)
    }

    /// Called inside the write section: a division and, rarely, a wake-up.
    func appended(from first: Int64, through last: Int64) {
        let every = Int64(checkpointEvery)
        if (first - 1) / every != last / every { checkpointDue.signal() }
    }
}

extension SQLiteStore {
    /// Seals this store's new audit events with `chain`'s current key, and makes ``AuditLog/verify()``
    /// use its keys and checkpoint file. Call once, right after opening the store.
    public func attachAuditChain(_ chain: AuditChain) {
        let pool = database
        database.writeWithoutTransaction { db in AuditChainRegistry.attach(chain, writer: db, pool: pool) }
    }

    /// The chain attached to this store, if any.
    public var auditChain: AuditChain? { AuditChainRegistry.chain(for: database) }
}

/// Which chain belongs to which open store. Appends run as static functions over the writer's
/// connection (inside other tables' transactions), so the chain is found from that connection.
enum AuditChainRegistry {
    private final class Entry: @unchecked Sendable {  // read and written only under `entries`' lock
        weak var writer: Database?
        weak var pool: DatabasePool?
        let chain: AuditChain

        init(writer: Database, pool: DatabasePool, chain: AuditChain) {
            self.writer = writer
            self.pool = pool
            self.chain = chain
        }
    }

    private static let entries = Mutex<[Entry]>([])

    static func attach(_ chain: AuditChain, writer: Database, pool: DatabasePool) {
        entries.withLock { entries in
            entries.removeAll { $0.pool == nil || $0.pool === pool }
            entries.append(Entry(writer: writer, pool: pool, chain: chain))
        }
    }

    static func chain(forWriter db: Database) -> AuditChain? {
        entries.withLock { entries in entries.first { $0.writer === db }?.chain }
    }

    static func chain(for pool: DatabasePool) -> AuditChain? {
        entries.withLock { entries in entries.first { $0.pool === pool }?.chain }
    }
}
