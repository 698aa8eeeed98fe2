import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HelpdeskPostgres
import HelpdeskStore
import Synchronization

/// One throwaway PostgreSQL 15 cluster per test process, started on first use on a free loopback
/// port and stopped when the process exits; each caller gets a database of its own. Fails with a
/// clear message (never skips) when PostgreSQL is missing or does not start.
public enum TemporaryPostgres {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    static let binaries = "/usr/lib/postgresql/15/bin"
    private static let cluster = Mutex<Result<Cluster, Failure>?>(nil)

    struct Cluster: Sendable {
        var folder: String
        var port: Int
    }

    /// A new, empty database on the shared cluster, as a store endpoint (user `postgres`, trust auth on loopback).
    public static func newDatabase() async throws -> PostgresEndpoint {
        try await offThePool { try newDatabaseNow() }
    }

    private static func newDatabaseNow() throws -> PostgresEndpoint {
        let cluster = try shared()
        let name = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try run(["/usr/bin/psql",
                 "-h", "127.0.0.1", "-p", "\(cluster.port)", "-U", "postgres", "-q", "-c", "CREATE DATABASE \(name)"], asPostgres: false)
        let url = "postgres://postgres@127.0.0.1:\(cluster.port)/\(name)?sslmode=disable"
        return PostgresEndpoint(connection: try PostgresConnectionString(parsing: url), password: nil)
    }

    /// Store options for a test's database: production's, but waiting a minute for PostgreSQL where
    /// production waits 10 s. The whole suite runs at once beside the cluster on two cores (CI's VM
    /// slower still), and a lease or a migration queued behind hundreds of others is not an outage.
    /// Tests of the timeout itself set their own.
    public static func storeOptions(_ endpoint: PostgresEndpoint, defaultMaxAttempts: Int = 8, migrateOnOpen: Bool = true,
                                    maxConnections: Int = 10) -> PostgresStore.Options {
        .init(endpoint: endpoint, defaultMaxAttempts: defaultMaxAttempts, migrateOnOpen: migrateOnOpen, maxConnections: maxConnections,
              operationTimeout: .seconds(60))
    }

    /// Runs `sql` in the database `endpoint` names, through psql (a test's way around the store).
    public static func execute(_ sql: String, in endpoint: PostgresEndpoint) async throws {
        try await offThePool { try executeNow(sql, in: endpoint) }
    }

    private static func executeNow(_ sql: String, in endpoint: PostgresEndpoint) throws {
        try run(["/usr/bin/psql", "-h", "127.0.0.1", "-p", "\(endpoint.connection.port)", "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1",
                 "-d", endpoint.connection.database ?? "postgres", "-c", sql], asPostgres: false)
    }

    /// The rows `sql` answers in the database `endpoint` names, as text (`nil` for NULL), through
    /// `psql -At`: fields and rows are split on ASCII separator characters, so values may hold `|`
    /// and newlines.
    public static func query(_ sql: String, in endpoint: PostgresEndpoint) async throws -> [[String?]] {
        try await offThePool { try queryNow(sql, in: endpoint) }
    }

    private static func queryNow(_ sql: String, in endpoint: PostgresEndpoint) throws -> [[String?]] {
        let (field, record, null) = ("\u{1F}", "\u{1E}", "\u{1D}")
        var output = try run(["/usr/bin/psql", "-h", "127.0.0.1", "-p", "\(endpoint.connection.port)", "-U", "postgres", "-q",
                              "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", field, "-R", record, "-P", "null=" + null,
                              "-d", endpoint.connection.database ?? "postgres", "-c", sql], asPostgres: false)
        // No rows print nothing; otherwise psql ends the last row with a newline.
        guard !output.isEmpty else { return [] }
        if output.hasSuffix("\n") { output.removeLast() }
        return output.split(separator: Character(record), omittingEmptySubsequences: false).map { row in
            row.split(separator: Character(field), omittingEmptySubsequences: false).map { value -> String? in value == null ? nil : String(value) }
        }
    }

    /// The shared cluster's port, for tests that restart or inspect it.
    public static var port: Int {
        get throws { try shared().port }
    }

    private static func shared() throws -> Cluster {
        try cluster.withLock { state in
            if state == nil { state = Result { try start() }.mapError { $0 as? Failure ?? Failure(description: "\($0)") } }
            return try state!.get()
        }
    }

    private static func start() throws -> Cluster {
        guard FileManager.default.isExecutableFile(atPath: "\(binaries)/initdb") else {
            throw Failure(description: "PostgreSQL 15 is not installed (\(binaries)/initdb missing): run scripts/install-deps test or apt-get install postgresql")
        }
        // In memory when /dev/shm is there: a hundred test databases written to disk slowed every SQLite
        // fsync of the tests running beside them by seconds.
        let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let folder = (base as NSString).appendingPathComponent("helpdesk-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if getuid() == 0 { try run(["/bin/chown", "postgres:postgres", folder], asPostgres: false) }
        let data = folder + "/data"
        try run(["\(binaries)/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-N"], asPostgres: true)
        for _ in 0..<8 {
            let port = Int.random(in: 20_000...60_000)
            let options = "-k \(folder) -c listen_addresses=127.0.0.1 -p \(port) -c max_connections=500 -c fsync=off"
            if (try? run(["\(binaries)/pg_ctl", "-D", data, "-o", options, "-l", folder + "/log", "-w", "-t", "30", "start"], asPostgres: true)) != nil {
                let cluster = Cluster(folder: folder, port: port)
                registerStop(cluster)
                return cluster
            }
        }
        let log = (try? String(contentsOfFile: folder + "/log", encoding: .utf8)) ?? ""
        throw Failure(description: "PostgreSQL did not start on any of 8 ports:\n\(log.suffix(2000))")
    }

    /// posix_spawn and waitpid, not Process: Foundation's Process sometimes never sees `pg_ctl start`
    /// exit (the server it leaves behind), and the test run hangs.
    @discardableResult
    /// Runs blocking work (initdb, pg_ctl, psql, waitpid, the cluster's lock) on a thread of its own: on
    /// Swift's cooperative pool — two threads on two cores — it stalled every other test's timers.
    static func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        // A thread of its own: Dispatch's global queues share their few threads with Swift's executor here.
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    static func run(_ arguments: [String], asPostgres: Bool) throws -> String {
        let command = asPostgres && getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + arguments : arguments
        let outputPath = (NSTemporaryDirectory() as NSString).appendingPathComponent("helpdesk-pg-out-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure(description: "cannot start \(command[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            throw Failure(description: "\(arguments.joined(separator: " ")) failed (status \(status)): \(text.suffix(2000))")
        }
        return text
    }

    private static let stopOnExit = Mutex<Cluster?>(nil)

    private static func registerStop(_ cluster: Cluster) {
        stopOnExit.withLock { $0 = cluster }
        atexit {
            guard let cluster = TemporaryPostgres.stopOnExit.withLock({ $0 }) else { return }
            try? TemporaryPostgres.run(["\(TemporaryPostgres.binaries)/pg_ctl", "-D", cluster.folder + "/data", "-m", "immediate", "stop"],
                                       asPostgres: true)
            try? FileManager.default.removeItem(atPath: cluster.folder)
        }
    }
}

/// The stores the store suite runs against.
public enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres
    public var description: String { rawValue }
}

/// Runs `body` against a fresh store of `kind` (a temporary SQLite file, or a new database on the
/// shared PostgreSQL cluster), then closes it. `defaultMaxAttempts` is the store option of either kind.
public func withTemporaryStore(_ kind: StoreKind, defaultMaxAttempts: Int = 8, _ body: (any Store) async throws -> Void) async throws {
    let folder = try TemporaryDirectory()
    defer { folder.remove() }
    let store = try await TemporaryStoreLocation.fresh(kind, in: folder).open(defaultMaxAttempts: defaultMaxAttempts)
    do {
        try await body(store)
    } catch {
        try? await store.close()
        throw error
    }
    try await store.close()
}

/// Where a test's store lives, so the test can open it again (a restart, a second replica, another
/// audit key) or reach its rows behind the store's back.
public enum TemporaryStoreLocation: Sendable {
    case sqlite(path: String)
    case postgres(PostgresEndpoint)

    /// A new, empty place of `kind`: a file in `folder` (the caller removes the folder), or a new
    /// database on the shared cluster.
    public static func fresh(_ kind: StoreKind, in folder: TemporaryDirectory, name: String = "hd.sqlite") async throws -> TemporaryStoreLocation {
        switch kind {
        case .sqlite: return .sqlite(path: folder.file(name))
        case .postgres: return .postgres(try await TemporaryPostgres.newDatabase())
        }
    }

    public var kind: StoreKind {
        switch self {
        case .sqlite: return .sqlite
        case .postgres: return .postgres
        }
    }

    /// Opens the store there (applying migrations); the caller closes it.
    public func open(defaultMaxAttempts: Int = 8) async throws -> any Store {
        switch self {
        case .sqlite(let path):
            return try SQLiteStore(options: .init(path: path, defaultMaxAttempts: defaultMaxAttempts))
        case .postgres(let endpoint):
            return try await PostgresStore.open(options: TemporaryPostgres.storeOptions(endpoint, defaultMaxAttempts: defaultMaxAttempts, maxConnections: 6))
        }
    }
}
